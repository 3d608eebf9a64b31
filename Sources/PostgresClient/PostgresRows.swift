import CPostgres

/// The rows of one statement's result, copied out of libpq when the statement finished.
///
/// No C memory is referenced: the values sit in one contiguous byte buffer shared by all rows,
/// so a result can outlive its connection and cross tasks. Values stay in PostgreSQL's text
/// format until a ``PostgresRow`` accessor decodes them.
public struct PostgresRows: RandomAccessCollection, Sendable {
    let storage: Storage

    /// Rows inserted, updated, deleted, selected or copied according to the command tag
    /// (`PQcmdTuples`); `0` for commands that do not report a count.
    public let affectedRows: Int

    /// Column names in result order.
    public var columns: [String] { storage.columns }

    /// Always `0`.
    public var startIndex: Int { 0 }
    /// The number of rows.
    public var endIndex: Int { storage.rowCount }

    /// The row at `position`, counted from `0`.
    public subscript(position: Int) -> PostgresRow {
        precondition(indices.contains(position), "row index \(position) out of range 0..<\(count)")
        return PostgresRow(storage: storage, row: position)
    }

    /// Copies everything out of `result`. The caller still owns `result` and must `PQclear` it.
    init(copying result: OpaquePointer) {
        storage = Storage(copying: result)
        affectedRows = Int(String(cString: PQcmdTuples(result))) ?? 0
    }

    /// Rows made from text values as PostgreSQL would send them (`nil` = NULL), so code that
    /// consumes results can be tested without a server.
    init(columns: [String], rows: [[String?]], affectedRows: Int = 0) {
        precondition(rows.allSatisfy { $0.count == columns.count }, "every row needs one value per column")
        storage = Storage(columns: columns, rows: rows)
        self.affectedRows = affectedRows
    }
}

extension PostgresRows {
    /// All values of a result in one buffer, with each cell's start and length (`-1` = NULL).
    final class Storage: Sendable {
        let columns: [String]
        /// Name → first column with that name, built once per result so row accessors by name
        /// cost one dictionary lookup.
        let columnIndex: [String: Int]
        let rowCount: Int
        let columnCount: Int
        let bytes: [UInt8]
        let starts: [Int]
        let lengths: [Int32]

        convenience init(copying result: OpaquePointer) {
            let rowCount = Int(PQntuples(result))
            let columnCount = Int(PQnfields(result))
            let columns = (0..<columnCount).map { column in
                PQfname(result, Int32(column)).map { String(cString: $0) } ?? ""
            }

            let cellCount = rowCount * columnCount
            var lengths: [Int32] = []
            lengths.reserveCapacity(cellCount)
            var starts: [Int] = []
            starts.reserveCapacity(cellCount)
            var total = 0
            for row in 0..<rowCount {
                for column in 0..<columnCount {
                    starts.append(total)
                    if PQgetisnull(result, Int32(row), Int32(column)) != 0 {
                        lengths.append(-1)
                    } else {
                        let length = PQgetlength(result, Int32(row), Int32(column))
                        lengths.append(length)
                        total += Int(length)
                    }
                }
            }
            let bytes = [UInt8](unsafeUninitializedCapacity: total) { buffer, initialized in
                var cell = 0
                for row in 0..<rowCount {
                    for column in 0..<columnCount {
                        let length = Int(lengths[cell])
                        if length > 0, let value = PQgetvalue(result, Int32(row), Int32(column)) {
                            UnsafeMutableRawPointer(buffer.baseAddress! + starts[cell])
                                .copyMemory(from: value, byteCount: length)
                        }
                        cell += 1
                    }
                }
                initialized = total
            }

            self.init(columns: columns, rowCount: rowCount, bytes: bytes, starts: starts, lengths: lengths)
        }

        convenience init(columns: [String], rows: [[String?]]) {
            var bytes: [UInt8] = []
            var starts: [Int] = []
            var lengths: [Int32] = []
            for value in rows.joined() {
                starts.append(bytes.count)
                if let value {
                    lengths.append(Int32(value.utf8.count))
                    bytes.append(contentsOf: value.utf8)
                } else {
                    lengths.append(-1)
                }
            }
            self.init(columns: columns, rowCount: rows.count, bytes: bytes, starts: starts, lengths: lengths)
        }

        private init(columns: [String], rowCount: Int, bytes: [UInt8], starts: [Int], lengths: [Int32]) {
            var columnIndex: [String: Int] = [:]
            columnIndex.reserveCapacity(columns.count)
            for (index, name) in columns.enumerated() where columnIndex[name] == nil {
                columnIndex[name] = index
            }
            self.columns = columns
            self.columnIndex = columnIndex
            self.rowCount = rowCount
            self.columnCount = columns.count
            self.bytes = bytes
            self.starts = starts
            self.lengths = lengths
        }
    }
}
