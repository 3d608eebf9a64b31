/// A school as the database knows it (`school.upsert`).
public struct SchoolRecord: Sendable, Equatable {
    public var schoolCode: String
    public var name: String
    public var level: SchoolLevel
    public var region: String
    public var officialEmail: String
    public var language: Language
    public var students: Int?

    public init(schoolCode: String, name: String, level: SchoolLevel, region: String, officialEmail: String,
                language: Language, students: Int? = nil) {
        self.schoolCode = schoolCode
        self.name = name
        self.level = level
        self.region = region
        self.officialEmail = officialEmail
        self.language = language
        self.students = students
    }
}
