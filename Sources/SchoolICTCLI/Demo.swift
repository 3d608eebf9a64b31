import ArgumentParser

struct Demo: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Load the demo and print a report.")
    func run() throws { throw ValidationError("not yet") }
}
