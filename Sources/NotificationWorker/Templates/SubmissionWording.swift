import Shared

/// What a school has to submit for a campaign, in its language: the part of a reminder that tells it what to do.
enum SubmissionWording {
    static func instructions(kind: CampaignKind, level: SchoolLevel, officialEmail: String,
                             _ language: Language) -> [String] {
        switch (kind, language) {
        case (.equipmentInventory, .greek):
            let equipment = "τον εξοπλισμό Τ.Π.Ε. του σχολείου (επιτραπέζιους και φορητούς υπολογιστές, tablet, "
                + "βιντεοπροβολείς, διαδραστικούς πίνακες, εκτυπωτές, δικτυακό εξοπλισμό, εξυπηρετητές)"
            let procedure = level == .primary
                ? "Καταχωρίστε \(equipment) με τη διαδικασία «Εισαγωγή». Οι σχολικές μονάδες Πρωτοβάθμιας "
                    + "Εκπαίδευσης δεν εκτελούν τη διαδικασία «Απογραφή»."
                : "Καταχωρίστε \(equipment) με τη διαδικασία «Απογραφή», όπως και μέχρι σήμερα."
            return [
                procedure,
                "Η υποβολή γίνεται με τον επίσημο λογαριασμό ηλεκτρονικού ταχυδρομείου της σχολικής μονάδας "
                    + "(\(officialEmail)).",
                "Για την αναβάθμιση του εξοπλισμού θα ληφθούν υπόψη μόνο τα στοιχεία που θα καταχωριστούν "
                    + "εμπρόθεσμα.",
            ]
        case (.equipmentInventory, .vietnamese):
            let procedure = level == .primary
                ? "Trường tiểu học chỉ thực hiện chức năng “Thêm mới” thiết bị, không thực hiện “Kiểm kê”."
                : "Nhà trường thực hiện “Kiểm kê” toàn bộ thiết bị như trước đây."
            return [
                "Kê khai thiết bị công nghệ thông tin hiện có của nhà trường (máy tính để bàn, máy tính xách tay, "
                    + "máy tính bảng, máy chiếu, bảng tương tác, máy in, thiết bị mạng, máy chủ). \(procedure)",
                "Báo cáo phải được gửi từ địa chỉ thư điện tử chính thức của nhà trường (\(officialEmail)).",
                "Chỉ những số liệu được gửi đúng hạn mới được xem xét khi nâng cấp thiết bị.",
            ]
        case (.equipmentInventory, .english):
            let procedure = level == .primary
                ? "Primary schools use the “insert” procedure only; they do not run the full inventory."
                : "Secondary schools run the full inventory procedure, as before."
            return [
                "Enter your school's ICT equipment (desktop and laptop computers, tablets, projectors, interactive "
                    + "whiteboards, printers, network devices, servers). \(procedure)",
                "Submissions must come from the school's official e-mail account (\(officialEmail)).",
                "Only data entered before the deadline will be considered for the equipment upgrade.",
            ]
        case (.deviceSupport, .greek):
            return [
                "Υποβάλετε την αναφορά αναγκών: τους μαθητές που χρειάζονται υπολογιστή για την εξ αποστάσεως "
                    + "εκπαίδευση (μαθητές από φτωχά ή σχεδόν φτωχά νοικοκυριά και μαθητές που έχασαν γονέα από "
                    + "COVID-19, και χωριστά όσους ζουν σε άλλες δύσκολες συνθήκες). Αν κανένας μαθητής δεν χρειάζεται "
                    + "υπολογιστή, υποβάλετε την αναφορά χωρίς μαθητές.",
                "Η υποβολή γίνεται με τον επίσημο λογαριασμό ηλεκτρονικού ταχυδρομείου της σχολικής μονάδας "
                    + "(\(officialEmail)).",
                "Για τη διάθεση υπολογιστών λαμβάνονται υπόψη μόνο οι εμπρόθεσμες αναφορές.",
            ]
        case (.deviceSupport, .vietnamese):
            return [
                "Báo cáo nhu cầu máy tính: danh sách học sinh cần máy tính để học trực tuyến — học sinh thuộc hộ "
                    + "nghèo, hộ cận nghèo, học sinh có cha hoặc mẹ mất vì COVID-19; và danh sách riêng các học sinh "
                    + "có hoàn cảnh khó khăn khác. Nếu nhà trường không có học sinh nào cần máy tính, vui lòng vẫn gửi "
                    + "báo cáo với danh sách trống.",
                "Báo cáo phải được gửi từ địa chỉ thư điện tử chính thức của nhà trường (\(officialEmail)).",
                "Chỉ những báo cáo gửi đúng hạn mới được xem xét khi phân bổ máy tính.",
            ]
        case (.deviceSupport, .english):
            return [
                "Submit your needs report: the students who need a computer for online learning (students from poor "
                    + "or near-poor households and students who lost a parent to COVID-19, and separately those in "
                    + "other difficult circumstances). If no student needs a computer, submit the report with an "
                    + "empty list: that still counts as reporting.",
                "Reports must come from the school's official e-mail account (\(officialEmail)).",
                "Only reports received before the deadline are considered when computers are allocated.",
            ]
        }
    }
}
