import Foundation
import Shared

/// The demo's closing report, built from the outcome events only.
struct DemoReport {
    let session: DemoSession
    let data: DemoData
    let mailDir: String?
    let elapsed: TimeInterval

    func render() -> String {
        var lines: [String] = []
        let outcomes = Array(session.outcomes.values)
        func of(_ campaign: String, _ prefix: String) -> [(routingKey: String, body: JSONValue)] {
            outcomes.filter { $0.body["campaign"]?.stringValue == campaign && $0.routingKey.hasPrefix(prefix) }
        }
        func tally(_ items: [(routingKey: String, body: JSONValue)]) -> (onTime: Int, late: Int, rejected: [String: Int]) {
            var result = (onTime: 0, late: 0, rejected: [String: Int]())
            for item in items {
                if item.routingKey.contains(".accepted.") {
                    if item.body["status"]?.stringValue == "late" { result.late += 1 } else { result.onTime += 1 }
                } else {
                    for error in item.body["errors"]?.arrayValue ?? [] {
                        result.rejected[error["code"]?.stringValue ?? "?", default: 0] += 1
                        break
                    }
                }
            }
            return result
        }
        func codes(_ rejected: [String: Int]) -> String {
            rejected.isEmpty ? "" : "  (" + rejected.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ") + ")"
        }
        func row(_ label: String, _ value: Any) -> String {
            "  " + label.padding(toLength: 34, withPad: " ", startingAt: 0) + "\(value)"
        }

        let commands = outcomes.filter { $0.routingKey.hasPrefix("command.") }
        lines.append("══ Registry ══")
        lines.append(row("commands accepted / rejected", "\(commands.filter { $0.routingKey.contains(".accepted.") }.count) / \(commands.filter { $0.routingKey.contains(".rejected.") }.count)"))

        let greek = tally(of(DemoData.greekCampaign, "submission."))
        let greekOnTimeSchools = Set(of(DemoData.greekCampaign, "submission.accepted").filter { $0.body["status"]?.stringValue == "on_time" }.compactMap { $0.body["school_code"]?.stringValue })
        lines.append("")
        lines.append("══ Greece · ICT infrastructure inventory (\(DemoData.greekCampaign)) ══")
        lines.append(row("schools in the campaign", data.greekSchools.count))
        lines.append(row("inventories accepted on time", greek.onTime))
        lines.append(row("accepted late (kept, not counted)", greek.late))
        lines.append(row("rejected", greek.rejected.values.reduce(0, +)) + codes(greek.rejected))
        lines.append(row("deadline", "21 Jan 2022 → extended to 31 Jan 2022"))
        lines.append(row("schools with no on-time inventory", data.greekSchools.count - greekOnTimeSchools.count))
        var byRegion: [String: (Int, Int)] = [:]
        for school in data.greekSchools {
            byRegion[school.region, default: (0, 0)].1 += 1
            if greekOnTimeSchools.contains(school.code) { byRegion[school.region, default: (0, 0)].0 += 1 }
        }
        for (region, counts) in byRegion.sorted(by: { $0.key < $1.key }) {
            lines.append(row("   \(region)", "\(counts.0) of \(counts.1) on time"))
        }

        let needs = of(DemoData.vietnamCampaign, "submission.").filter { $0.routingKey.hasSuffix("device_need_report") }
        let needsTally = tally(needs)
        var categories: [String: Int] = [:]
        var students = 0
        for item in needs where item.routingKey.contains(".accepted.") {
            students += item.body["summary"]?["students"]?.intValue ?? 0
            if case .object(let counts)? = item.body["summary"]?["by_category"] {
                for (category, value) in counts { categories[category, default: 0] += value.intValue ?? 0 }
            }
        }
        let donations = tally(of(DemoData.vietnamCampaign, "submission.").filter { $0.routingKey.hasSuffix("donation_record") })
        let devices = of(DemoData.vietnamCampaign, "submission.accepted.donation_record")
            .reduce(0) { $0 + ($1.body["summary"]?["devices"]?.intValue ?? 0) }
        lines.append("")
        lines.append("══ Viet Nam · Sóng và máy tính cho em (\(DemoData.vietnamCampaign)) ══")
        lines.append(row("needs reports on time / late", "\(needsTally.onTime) / \(needsTally.late)") + codes(needsTally.rejected))
        lines.append(row("students reported", students))
        for category in StudentCategory.allCases {
            lines.append(row("   \(category.rawValue)", categories[category.rawValue] ?? 0))
        }
        lines.append(row("donations accepted", "\(donations.onTime + donations.late) (\(devices) computers)"))
        lines.append(row("donations rejected", donations.rejected.values.reduce(0, +)) + codes(donations.rejected))
        let runs = session.events(prefix: "allocation.completed")
        if let last = runs.last {
            let allocated = runs.reduce(0) { $0 + ($1["allocated"]?.intValue ?? 0) }
            let schools = Set(runs.flatMap { $0["schools"]?.arrayValue ?? [] }.compactMap { $0["school_code"]?.stringValue })
            lines.append(row("allocation runs", runs.count))
            lines.append(row("computers allocated", allocated))
            lines.append(row("schools receiving computers", schools.count))
            lines.append(row("eligible students still waiting", last["waiting"]?.intValue ?? 0))
        } else {
            lines.append(row("allocation", "no allocation.completed event (AllocationWorker not running?)"))
        }
        let handovers = tally(of(DemoData.vietnamCampaign, "submission.").filter { $0.routingKey.hasSuffix("handover_record") })
        if handovers.onTime + handovers.late + handovers.rejected.count > 0 {
            lines.append(row("handovers within a day / late", "\(handovers.onTime) / \(handovers.late)"))
            lines.append(row("handovers rejected", handovers.rejected.values.reduce(0, +)) + codes(handovers.rejected))
        }

        let sent = session.events(prefix: "notification.sent")
        var kinds: [String: Int] = [:]
        for event in sent { kinds[event["kind"]?.stringValue ?? "?", default: 0] += 1 }
        lines.append("")
        lines.append("══ E-mail ══")
        lines.append(row("notification.sent events", sent.count))
        for (kind, count) in kinds.sorted(by: { $0.key < $1.key }) { lines.append(row("   \(kind)", count)) }
        if let mailDir, let files = try? FileManager.default.contentsOfDirectory(atPath: mailDir) {
            let mails = files.filter { $0.hasSuffix(".eml") }
            lines.append(row("messages in the local mailbox", "\(mails.count)  (\(mailDir))"))
        }
        lines.append("")
        lines.append("\(session.outcomes.count) outcome events, \(session.events(prefix: "").count) events in all, in \(Int(elapsed)) s.")
        return lines.joined(separator: "\n")
    }
}
