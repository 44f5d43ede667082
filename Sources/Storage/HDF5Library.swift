import CHDF5
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Process-wide HDF5 plumbing: silencing the automatic error printer and turning failed calls
/// into `HDF5Error`s that carry the library's error stack.
enum HDF5Library {
    /// Turns off HDF5's automatic printing of error stacks to stderr on the calling thread.
    ///
    /// The Debian build is thread-safe, which makes error stacks (and this setting) per thread,
    /// so it is called at the start of every public operation rather than once per process.
    static func silenceAutomaticPrinting() {
        _ = noCleanupAtExit
        _ = H5Eset_auto2(chdf5_e_default(), nil, nil)
    }

    /// Asks HDF5 not to run its clean-up at process exit; evaluated once, before the first call
    /// that initializes the library (HDF5 ignores the request after that).
    ///
    /// Why: when H5Fclose fails (a write error while flushing, e.g. a full disk), HDF5 1.10 leaves
    /// the file's identifier registered over a half-destroyed file, and its exit-time clean-up
    /// closes that identifier again and dereferences a null pointer (SIGSEGV inside
    /// H5F__close_cb). Every file this module opens is closed explicitly, so the clean-up has
    /// nothing else to do; the operating system releases the rest.
    private static let noCleanupAtExit: Void = { _ = H5dont_atexit() }()

    /// Collects the current thread's error stack as "function: description" entries, outermost
    /// call first, then clears it.
    static func takeErrorStack() -> String {
        final class Lines { var items: [String] = [] }
        let lines = Lines()
        let walker: H5E_walk2_t = { _, entry, clientData in
            guard let entry = entry, let clientData = clientData else { return 0 }
            let sink = Unmanaged<Lines>.fromOpaque(clientData).takeUnretainedValue()
            let function = entry.pointee.func_name.map { String(cString: $0) } ?? "?"
            var text = entry.pointee.desc.map { String(cString: $0) } ?? ""
            // The minor message ("file not found", "no such object"...) is often the useful part.
            var buffer = [CChar](repeating: 0, count: 256)
            if H5Eget_msg(entry.pointee.min_num, nil, &buffer, buffer.count) > 0 {
                let minor = String(cString: buffer)
                if !minor.isEmpty && !text.contains(minor) { text += text.isEmpty ? minor : " (\(minor))" }
            }
            sink.items.append("\(function): \(text)")
            return 0
        }
        withExtendedLifetime(lines) {
            _ = H5Ewalk2(chdf5_e_default(), H5E_WALK_DOWNWARD, walker,
                         Unmanaged.passUnretained(lines).toOpaque())
        }
        _ = H5Eclear2(chdf5_e_default())
        // Some descriptions embed ctime() output with its newline; errors are one line each.
        return lines.items.joined(separator: "; ")
            .split(whereSeparator: \.isNewline).joined(separator: " ")
    }

    /// Builds the error for a failed HDF5 call from the current error stack. When the stack
    /// reports an operating-system error (HDF5's file driver writes "errno = 28, error message =
    /// 'No space left on device'"), the error is that system error in one line instead.
    static func failure(_ call: String, path: String) -> HDF5Error {
        let stack = takeErrorStack()
        if let code = systemErrorNumber(in: stack) {
            let reason = String(cString: strerror(code))
            let sentence = reason.prefix(1).lowercased() + reason.dropFirst()
            return HDF5Error(.system, call: call, path: path, message: "\(path): \(sentence) (\(call) failed)")
        }
        return HDF5Error(.library, call: call, path: path, message: stack)
    }

    /// The first "errno = N" with N > 0 in an error stack, if any.
    static func systemErrorNumber(in stack: String) -> Int32? {
        var rest = Substring(stack)
        while let range = rest.firstRange(of: "errno = ") {
            rest = rest[range.upperBound...]
            if let code = Int32(rest.prefix { $0.isNumber }), code > 0 { return code }
        }
        return nil
    }

    /// Returns an identifier, or throws if the call returned a negative (invalid) one.
    @discardableResult
    static func check(_ id: hid_t, _ call: String, path: String) throws -> hid_t {
        if id < 0 { throw failure(call, path: path) }
        return id
    }

    /// Throws if a status-returning call failed (negative status).
    static func check(_ status: herr_t, _ call: String, path: String) throws {
        if status < 0 { throw failure(call, path: path) }
    }

    /// Returns a tri-state answer (H5Lexists, H5Fis_hdf5...) as a Bool, or throws when negative.
    static func checkBool(_ value: htri_t, _ call: String, path: String) throws -> Bool {
        if value < 0 { throw failure(call, path: path) }
        return value > 0
    }
}

extension HDF5Library {
    /// How many files, groups, datasets, attributes and named types are open in the process,
    /// for tests that prove nothing leaks. (HDF5 offers no public count of dataspaces, unnamed
    /// types or property lists: those rely on the defer after each create.)
    static func openObjectCount() -> Int {
        Int(H5Fget_obj_count(hid_t(chdf5_f_obj_all()), chdf5_f_obj_all()))
    }
}
