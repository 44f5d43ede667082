/// An IDX array of unsigned bytes, the format of the MNIST and Fashion-MNIST files: images
/// `[N, rows, cols]` or labels `[N]`.
///
/// Layout: two zero bytes, the element type (0x08 = unsigned byte, the only one read here), the
/// number of dimensions, each dimension as a big-endian UInt32, then the elements in row-major
/// order. Files may be gzip-compressed (zlib's gzread reads plain files unchanged).
public struct IDXFile: Equatable, Sendable {
    /// The dimensions, outermost first: `[N]` for labels, `[N, rows, cols]` for images.
    public let shape: [Int]
    /// All elements, row-major; `data.count` is the product of `shape`.
    public let data: [UInt8]

    /// Wraps `data` with the given shape.
    ///
    /// - Precondition: 1 to 255 dimensions, none negative, whose product is `data.count`.
    public init(shape: [Int], data: [UInt8]) {
        require(!shape.isEmpty && shape.count <= 255 && shape.allSatisfy { $0 >= 0 && $0 <= UInt32.max },
                     "IDXFile: invalid shape \(shape)")
        require(shape.reduce(1, *) == data.count,
                     "IDXFile: \(data.count) elements for shape \(shape)")
        self.shape = shape
        self.data = data
    }

    /// Reads the IDX file at `path`, plain or gzip-compressed.
    ///
    /// - Throws: `ImageError` when the file cannot be opened or read (zlib's message), when the
    ///   header is not an IDX header or declares another element type than unsigned bytes, or
    ///   when the data is shorter or longer than the header declares.
    public init(contentsOf path: String) throws {
        let reader = try GzipFile(path: path, mode: "rb")

        let header = try reader.read(4)
        guard header.count == 4, header[0] == 0, header[1] == 0 else {
            throw ImageError(path: path, message: "not an IDX file (bad magic number)")
        }
        guard header[2] == 0x08 else {
            let code = String(header[2], radix: 16, uppercase: true)
            throw ImageError(path: path, message:
                "unsupported IDX element type 0x\(code.count < 2 ? "0" + code : code) (only unsigned bytes, 0x08, are read)")
        }
        let rank = Int(header[3])
        guard rank > 0 else { throw ImageError(path: path, message: "IDX header declares no dimensions") }
        let dimBytes = try reader.read(4 * rank)
        guard dimBytes.count == 4 * rank else {
            throw ImageError(path: path, message: "IDX header cut short (\(rank) dimensions declared)")
        }
        var shape: [Int] = []
        var total = 1
        for d in 0..<rank {
            let size = dimBytes[(4 * d)..<(4 * d + 4)].reduce(0) { $0 << 8 | Int($1) }
            shape.append(size)
            let (product, overflow) = total.multipliedReportingOverflow(by: size)
            guard !overflow else { throw ImageError(path: path, message: "IDX shape \(shape) is too large") }
            total = product
        }

        // Read in chunks, so a header that lies about the size costs no more memory than the file.
        let data = try reader.read(total)
        guard data.count == total else {
            throw ImageError(path: path, message:
                "IDX data cut short: shape \(shape) needs \(total) bytes, file has \(data.count)")
        }
        guard try reader.read(1).isEmpty else {
            throw ImageError(path: path, message: "IDX file has more data than its shape \(shape) declares")
        }
        self.init(shape: shape, data: data)
    }

    /// Writes this array to `path` as an IDX file, gzip-compressed if `compressed`.
    ///
    /// - Throws: `ImageError` when the file cannot be created or written.
    public func write(to path: String, compressed: Bool = false) throws {
        var bytes: [UInt8] = [0, 0, 0x08, UInt8(shape.count)]
        for size in shape {
            bytes += [UInt8(size >> 24 & 0xFF), UInt8(size >> 16 & 0xFF), UInt8(size >> 8 & 0xFF), UInt8(size & 0xFF)]
        }
        bytes += data
        guard compressed else { return try FileIO.write(bytes, to: path) }

        let file = try GzipFile(path: path, mode: "wb")
        try file.write(bytes)
        try file.close()
    }

    /// The number of items: the first dimension.
    public var count: Int { shape[0] }

    /// Item `index` of an image file (`[N, rows, cols]`) as a gray image.
    ///
    /// - Precondition: the shape has three dimensions and `0 <= index < count`.
    public func image(at index: Int) -> Image {
        require(shape.count == 3, "IDXFile.image: shape \(shape) is not [N, rows, cols]")
        require(index >= 0 && index < count, "IDXFile.image: index \(index) outside 0..<\(count)")
        let size = shape[1] * shape[2]
        return Image(width: shape[2], height: shape[1], channels: 1,
                     pixels: Array(data[(index * size)..<((index + 1) * size)]))
    }
}
