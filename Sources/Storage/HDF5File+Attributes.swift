import CHDF5

/// A value stored as an HDF5 attribute.
///
/// Strings are stored as scalar variable-length UTF-8 strings (h5py reads them as `str`),
/// integers as scalar int64, doubles as scalar float64, float arrays as 1-D float32.
public enum HDF5AttributeValue: Equatable, Sendable {
    case string(String)
    case int64(Int64)
    case double(Double)
    case floats([Float])

    /// "a string", "an integer", ... for type-mismatch messages.
    var kindName: String {
        switch self {
        case .string: return "a string"
        case .int64: return "an integer"
        case .double: return "a floating-point number"
        case .floats: return "a float array"
        }
    }
}

/// Attributes on the root group ("/"), on groups and on datasets.
extension HDF5File {
    /// Sets an attribute, replacing any attribute of that name.
    ///
    /// - Parameters:
    ///   - name: the attribute's name.
    ///   - value: the value to store.
    ///   - objectPath: the group or dataset carrying it; the root group by default.
    /// - Throws: `HDF5Error` `.missingObject` if the object does not exist, `.readOnly`, or a
    ///   library failure.
    public func setAttribute(_ name: String, _ value: HDF5AttributeValue, on objectPath: String = "/") throws {
        let id = try writableID()
        let normalized = try existingObject(objectPath)
        let here = location(normalized)
        if try HDF5Library.checkBool(H5Aexists_by_name(id, normalized, name, chdf5_p_default()),
                                     "H5Aexists_by_name", path: here) {
            try HDF5Library.check(H5Adelete_by_name(id, normalized, name, chdf5_p_default()),
                                  "H5Adelete_by_name", path: here)
        }
        // The type and space to create; the string type is ours to close, the others are constants.
        let space: hid_t
        var type: hid_t
        var ownsType = false
        switch value {
        case .string:
            type = try HDF5Library.check(H5Tcopy(chdf5_c_s1()), "H5Tcopy", path: here)
            ownsType = true
            space = H5Screate(H5S_SCALAR)
        case .int64:
            type = chdf5_std_i64le()
            space = H5Screate(H5S_SCALAR)
        case .double:
            type = chdf5_ieee_f64le()
            space = H5Screate(H5S_SCALAR)
        case .floats(let values):
            type = chdf5_ieee_f32le()
            var dims = [hsize_t(values.count)]
            space = H5Screate_simple(1, &dims, nil)
        }
        defer {
            if ownsType { H5Tclose(type) }
            if space >= 0 { H5Sclose(space) }
        }
        try HDF5Library.check(space, "H5Screate", path: here)
        if case .string = value {
            try HDF5Library.check(H5Tset_size(type, chdf5_variable()), "H5Tset_size", path: here)
            try HDF5Library.check(H5Tset_cset(type, H5T_CSET_UTF8), "H5Tset_cset", path: here)
        }
        let attribute = try HDF5Library.check(
            H5Acreate_by_name(id, normalized, name, type, space, chdf5_p_default(), chdf5_p_default(),
                              chdf5_p_default()), "H5Acreate_by_name", path: here)
        defer { H5Aclose(attribute) }
        let status: herr_t
        switch value {
        case .string(let text):
            status = text.withCString { chars -> herr_t in
                var pointer: UnsafePointer<CChar>? = chars
                return H5Awrite(attribute, type, &pointer)
            }
        case .int64(let number):
            var number = number
            status = H5Awrite(attribute, chdf5_native_int64(), &number)
        case .double(let number):
            var number = number
            status = H5Awrite(attribute, chdf5_native_double(), &number)
        case .floats(let values):
            status = values.isEmpty ? 0 : values.withUnsafeBufferPointer {
                H5Awrite(attribute, chdf5_native_float(), $0.baseAddress)
            }
        }
        try HDF5Library.check(status, "H5Awrite", path: here)
    }

    /// Whether the object carries an attribute of that name.
    ///
    /// - Throws: `HDF5Error` `.missingObject` if the object does not exist, or a library failure.
    public func hasAttribute(_ name: String, on objectPath: String = "/") throws -> Bool {
        let id = try openID()
        let normalized = try existingObject(objectPath)
        return try HDF5Library.checkBool(H5Aexists_by_name(id, normalized, name, chdf5_p_default()),
                                         "H5Aexists_by_name", path: location(normalized))
    }

    /// Names of all attributes of an object, sorted.
    ///
    /// - Throws: `HDF5Error` `.missingObject` if the object does not exist, or a library failure.
    public func attributeNames(on objectPath: String = "/") throws -> [String] {
        let id = try openID()
        let normalized = try existingObject(objectPath)
        let here = location(normalized)
        let object = try HDF5Library.check(H5Oopen(id, normalized, chdf5_p_default()), "H5Oopen", path: here)
        defer { H5Oclose(object) }
        let count = H5Aget_num_attrs(object)
        if count < 0 { throw HDF5Library.failure("H5Aget_num_attrs", path: here) }
        var names: [String] = []
        for index in 0..<Int(count) {
            let attribute = try HDF5Library.check(
                H5Aopen_by_idx(object, ".", H5_INDEX_NAME, H5_ITER_INC, hsize_t(index), chdf5_p_default(),
                               chdf5_p_default()), "H5Aopen_by_idx", path: here)
            defer { H5Aclose(attribute) }
            let length = H5Aget_name(attribute, 0, nil)
            if length < 0 { throw HDF5Library.failure("H5Aget_name", path: here) }
            var buffer = [CChar](repeating: 0, count: Int(length) + 1)
            if H5Aget_name(attribute, buffer.count, &buffer) < 0 { throw HDF5Library.failure("H5Aget_name", path: here) }
            names.append(String(cString: buffer))
        }
        return names.sorted()
    }

    /// Reads an attribute of any supported kind.
    ///
    /// Strings (fixed or variable length) read as `.string`, scalar integers as `.int64`,
    /// scalar floats as `.double`, 1-D float arrays as `.floats`.
    ///
    /// - Throws: `HDF5Error` `.missingObject`, `.missingAttribute`, `.typeMismatch` for other
    ///   stored types, or a library failure.
    public func attribute(_ name: String, on objectPath: String = "/") throws -> HDF5AttributeValue {
        let id = try openID()
        let normalized = try existingObject(objectPath)
        let here = location(normalized)
        guard try HDF5Library.checkBool(H5Aexists_by_name(id, normalized, name, chdf5_p_default()),
                                        "H5Aexists_by_name", path: here) else {
            throw HDF5Error(.missingAttribute, call: "H5Aopen_by_name", path: here,
                            message: "\(here) has no attribute '\(name)'")
        }
        let attribute = try HDF5Library.check(
            H5Aopen_by_name(id, normalized, name, chdf5_p_default(), chdf5_p_default()), "H5Aopen_by_name", path: here)
        defer { H5Aclose(attribute) }
        let type = try HDF5Library.check(H5Aget_type(attribute), "H5Aget_type", path: here)
        defer { H5Tclose(type) }
        let space = try HDF5Library.check(H5Aget_space(attribute), "H5Aget_space", path: here)
        defer { H5Sclose(space) }
        let isScalar = H5Sget_simple_extent_type(space) == H5S_SCALAR
        let points = H5Sget_simple_extent_npoints(space)
        let rank = H5Sget_simple_extent_ndims(space)
        let unsupported = HDF5Error(.typeMismatch, call: "H5Aread", path: here,
                                    message: "\(here): attribute '\(name)' holds "
                                        + "\(HDF5ElementType.describe(typeID: type)) with \(points) element(s), "
                                        + "which is not a string, an integer, a float or a float array")
        switch H5Tget_class(type) {
        case H5T_STRING:
            guard points == 1 else { throw unsupported }
            return .string(try readString(attribute, fileType: type, here))
        case H5T_INTEGER:
            guard points == 1 else { throw unsupported }
            var number: Int64 = 0
            try HDF5Library.check(H5Aread(attribute, chdf5_native_int64(), &number), "H5Aread", path: here)
            return .int64(number)
        case H5T_FLOAT where isScalar:
            var number: Double = 0
            try HDF5Library.check(H5Aread(attribute, chdf5_native_double(), &number), "H5Aread", path: here)
            return .double(number)
        case H5T_FLOAT where rank == 1:
            var values = [Float](repeating: 0, count: Int(points))
            if points > 0 {
                try HDF5Library.check(H5Aread(attribute, chdf5_native_float(), &values), "H5Aread", path: here)
            }
            return .floats(values)
        default:
            throw unsupported
        }
    }

    /// Reads a string attribute.
    /// - Throws: `HDF5Error` `.missingAttribute`, `.typeMismatch` if it is not a string, or as `attribute(_:on:)`.
    public func stringAttribute(_ name: String, on objectPath: String = "/") throws -> String {
        let value = try attribute(name, on: objectPath)
        if case .string(let text) = value { return text }
        throw mismatch(name, objectPath, value, expected: "a string")
    }

    /// Reads an integer attribute.
    /// - Throws: `HDF5Error` `.missingAttribute`, `.typeMismatch` if it is not an integer, or as `attribute(_:on:)`.
    public func int64Attribute(_ name: String, on objectPath: String = "/") throws -> Int64 {
        let value = try attribute(name, on: objectPath)
        if case .int64(let number) = value { return number }
        throw mismatch(name, objectPath, value, expected: "an integer")
    }

    /// Reads a floating-point attribute; an integer attribute is accepted and converted.
    /// - Throws: `HDF5Error` `.missingAttribute`, `.typeMismatch` if it is not a number, or as `attribute(_:on:)`.
    public func doubleAttribute(_ name: String, on objectPath: String = "/") throws -> Double {
        let value = try attribute(name, on: objectPath)
        if case .double(let number) = value { return number }
        if case .int64(let number) = value { return Double(number) }
        throw mismatch(name, objectPath, value, expected: "a floating-point number")
    }

    /// Reads a float-array attribute.
    /// - Throws: `HDF5Error` `.missingAttribute`, `.typeMismatch` if it is not a float array, or as `attribute(_:on:)`.
    public func floatArrayAttribute(_ name: String, on objectPath: String = "/") throws -> [Float] {
        let value = try attribute(name, on: objectPath)
        if case .floats(let values) = value { return values }
        throw mismatch(name, objectPath, value, expected: "a float array")
    }

    // MARK: - Helpers

    /// The normalized path of an existing group or dataset, or a `.missingObject` error.
    private func existingObject(_ objectPath: String) throws -> String {
        let normalized = HDF5File.normalize(objectPath)
        guard try exists(normalized) else {
            throw HDF5Error(.missingObject, call: "H5Oopen", path: location(normalized),
                            message: "\(path): no group or dataset '\(normalized)'")
        }
        return normalized
    }

    private func mismatch(_ name: String, _ objectPath: String, _ value: HDF5AttributeValue,
                          expected: String) -> HDF5Error {
        let here = location(objectPath)
        return HDF5Error(.typeMismatch, call: "H5Aread", path: here,
                         message: "\(here): attribute '\(name)' is \(value.kindName), not \(expected)")
    }

    /// Reads a scalar string attribute stored with fixed or variable length.
    private func readString(_ attribute: hid_t, fileType: hid_t, _ here: String) throws -> String {
        let memoryType = try HDF5Library.check(H5Tcopy(chdf5_c_s1()), "H5Tcopy", path: here)
        defer { H5Tclose(memoryType) }
        try HDF5Library.check(H5Tset_cset(memoryType, characterSet(of: fileType)), "H5Tset_cset", path: here)
        if try HDF5Library.checkBool(H5Tis_variable_str(fileType), "H5Tis_variable_str", path: here) {
            try HDF5Library.check(H5Tset_size(memoryType, chdf5_variable()), "H5Tset_size", path: here)
            var pointer: UnsafeMutablePointer<CChar>?
            try HDF5Library.check(H5Aread(attribute, memoryType, &pointer), "H5Aread", path: here)
            // The library allocated the characters; they must go back through its allocator.
            defer { if let pointer = pointer { H5free_memory(pointer) } }
            return pointer.map { String(cString: $0) } ?? ""
        }
        let size = H5Tget_size(fileType)
        try HDF5Library.check(H5Tset_size(memoryType, size + 1), "H5Tset_size", path: here)
        try HDF5Library.check(H5Tset_strpad(memoryType, H5T_STR_NULLTERM), "H5Tset_strpad", path: here)
        var buffer = [CChar](repeating: 0, count: size + 1)
        try HDF5Library.check(H5Aread(attribute, memoryType, &buffer), "H5Aread", path: here)
        var text = String(cString: buffer)
        if H5Tget_strpad(fileType) == H5T_STR_SPACEPAD {
            while text.last == " " { text.removeLast() }
        }
        return text
    }
}

/// The character set of a string type, ASCII if the library cannot tell.
private func characterSet(of type: hid_t) -> H5T_cset_t {
    let cset = H5Tget_cset(type)
    return cset == H5T_CSET_ERROR ? H5T_CSET_ASCII : cset
}
