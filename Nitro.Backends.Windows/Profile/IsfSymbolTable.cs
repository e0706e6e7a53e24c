using System.Collections.Frozen;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Text.Json;
using SharpCompress.Compressors.Xz;

namespace Nitro.Backends.Windows.Profile;

/// <summary>
/// A Volatility 3 symbol table (ISF, "intermediate symbol format"): the JSON file that names a
/// kernel build's structure layouts (<c>user_types</c>) and symbol addresses (<c>symbols</c>,
/// relative to the image base), plain (<c>.json</c>) or xz-compressed (<c>.json.xz</c>).
/// </summary>
public sealed class IsfSymbolTable
{
    /// <summary>The largest decompressed table read (256 MiB); real kernel tables are 3–10 MiB.</summary>
    public const long MaxJsonBytes = 256L << 20;

    private readonly FrozenDictionary<string, ulong> _symbols;
    private readonly FrozenDictionary<ulong, string> _names;
    private readonly FrozenDictionary<string, IsfType> _types;

    private IsfSymbolTable(string? pdbName, string? guid, int age, Dictionary<string, ulong> symbols, Dictionary<string, IsfType> types)
    {
        PdbName = pdbName;
        Guid = guid;
        Age = age;
        _symbols = symbols.ToFrozenDictionary(StringComparer.Ordinal);
        _types = types.ToFrozenDictionary(StringComparer.Ordinal);
        var names = new Dictionary<ulong, string>();
        foreach (var (name, address) in symbols)
        {
            // Several names may share an address (NtXxx and its aliases): keep the Nt one, else the first in order.
            if (!names.TryGetValue(address, out var existing) || Rank(name) < Rank(existing) || (Rank(name) == Rank(existing) && string.CompareOrdinal(name, existing) < 0))
            {
                names[address] = name;
            }
        }

        _names = names.ToFrozenDictionary();
    }

    /// <summary>Gets the PDB file the table was made from (<c>ntkrnlmp.pdb</c>), when the metadata names it.</summary>
    public string? PdbName { get; }

    /// <summary>Gets the PDB GUID as 32 upper-case hex digits, when the metadata names it.</summary>
    public string? Guid { get; }

    /// <summary>Gets the PDB age (0 when the metadata does not say).</summary>
    public int Age { get; }

    /// <summary>Gets the number of symbols.</summary>
    public int SymbolCount => _symbols.Count;

    /// <summary>Reads a table from a file; <c>.xz</c> files are decompressed.</summary>
    /// <param name="path">The file.</param>
    /// <returns>The table.</returns>
    /// <exception cref="WindowsProfileException">The file is missing, truncated, not xz or not an ISF table.</exception>
    public static IsfSymbolTable Load(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        try
        {
            using var file = File.OpenRead(path);
            if (path.EndsWith(".xz", StringComparison.OrdinalIgnoreCase))
            {
                using var xz = new XZStream(file);
                return Parse(xz, path);
            }

            return Parse(file, path);
        }
        catch (IOException ex)
        {
            throw new WindowsProfileException($"Cannot read the symbol table {path}: {ex.Message}", ex);
        }
        catch (UnauthorizedAccessException ex)
        {
            throw new WindowsProfileException($"Cannot read the symbol table {path}: {ex.Message}", ex);
        }
    }

    /// <summary>Reads a table from uncompressed JSON.</summary>
    /// <param name="json">The JSON text.</param>
    /// <param name="source">What to call it in error messages.</param>
    /// <returns>The table.</returns>
    /// <exception cref="WindowsProfileException">The stream is truncated or not an ISF table.</exception>
    public static IsfSymbolTable Parse(Stream json, string source = "stream")
    {
        ArgumentNullException.ThrowIfNull(json);
        byte[] bytes;
        try
        {
            bytes = ReadBounded(json, source);
        }
        catch (Exception ex) when (ex is not WindowsProfileException and not OutOfMemoryException)
        {
            // SharpCompress reports a damaged or cut xz stream with its own exception types.
            throw new WindowsProfileException($"{source} is not a readable symbol table (damaged or truncated compression): {ex.Message}", ex);
        }

        try
        {
            using var document = JsonDocument.Parse(bytes, new JsonDocumentOptions { MaxDepth = 64 });
            return FromDocument(document.RootElement, source);
        }
        catch (JsonException ex)
        {
            throw new WindowsProfileException($"{source} is not a complete Volatility 3 symbol table (JSON ends or breaks at byte {ex.BytePositionInLine}, line {ex.LineNumber}).", ex);
        }
    }

    /// <summary>Looks up a symbol's address relative to the image base.</summary>
    /// <param name="name">The symbol (<c>PsActiveProcessHead</c>).</param>
    /// <param name="rva">Receives the relative address.</param>
    /// <returns><see langword="true"/> when the table has it.</returns>
    public bool TryGetSymbol(string name, out ulong rva) => _symbols.TryGetValue(name, out rva);

    /// <summary>Names the symbol at exactly <paramref name="rva"/> (a handler of the service table).</summary>
    /// <param name="rva">The relative address.</param>
    /// <param name="name">Receives the name (an <c>Nt</c> name where aliases share the address).</param>
    /// <returns><see langword="true"/> when a symbol starts there.</returns>
    public bool TryGetSymbolAt(ulong rva, [NotNullWhen(true)] out string? name) => _names.TryGetValue(rva, out name);

    /// <summary>Looks up a structure field's offset.</summary>
    /// <param name="type">The structure (<c>_EPROCESS</c>).</param>
    /// <param name="field">The field (<c>UniqueProcessId</c>).</param>
    /// <param name="offset">Receives the offset in bytes.</param>
    /// <returns><see langword="true"/> when the table has both.</returns>
    public bool TryGetFieldOffset(string type, string field, out int offset)
    {
        offset = 0;
        return _types.TryGetValue(type, out var t) && t.Fields.TryGetValue(field, out offset);
    }

    /// <summary>Looks up a structure's size.</summary>
    /// <param name="type">The structure (<c>_KTRAP_FRAME</c>).</param>
    /// <param name="size">Receives the size in bytes.</param>
    /// <returns><see langword="true"/> when the table has it.</returns>
    public bool TryGetTypeSize(string type, out int size)
    {
        size = 0;
        if (!_types.TryGetValue(type, out var t))
        {
            return false;
        }

        size = t.Size;
        return true;
    }

    private static int Rank(string name) => name.StartsWith("Nt", StringComparison.Ordinal) ? 0 : name.StartsWith("Zw", StringComparison.Ordinal) ? 2 : 1;

    private static byte[] ReadBounded(Stream json, string source)
    {
        using var buffer = new MemoryStream();
        var chunk = new byte[81920];
        int read;
        while ((read = json.Read(chunk)) > 0)
        {
            if (buffer.Length + read > MaxJsonBytes)
            {
                throw new WindowsProfileException($"{source} holds more than {MaxJsonBytes >> 20} MiB of JSON: not a kernel symbol table.");
            }

            buffer.Write(chunk, 0, read);
        }

        return buffer.ToArray();
    }

    private static IsfSymbolTable FromDocument(JsonElement root, string source)
    {
        if (root.ValueKind != JsonValueKind.Object
            || !root.TryGetProperty("symbols", out var symbols) || symbols.ValueKind != JsonValueKind.Object
            || !root.TryGetProperty("user_types", out var userTypes) || userTypes.ValueKind != JsonValueKind.Object)
        {
            throw new WindowsProfileException($"{source} is JSON but not a Volatility 3 symbol table (it needs 'symbols' and 'user_types' objects).");
        }

        string? pdbName = null, guid = null;
        var age = 0;
        if (root.TryGetProperty("metadata", out var metadata) && metadata.ValueKind == JsonValueKind.Object
            && metadata.TryGetProperty("windows", out var windows) && windows.ValueKind == JsonValueKind.Object
            && windows.TryGetProperty("pdb", out var pdb) && pdb.ValueKind == JsonValueKind.Object)
        {
            pdbName = pdb.TryGetProperty("database", out var database) && database.ValueKind == JsonValueKind.String ? database.GetString() : null;
            guid = pdb.TryGetProperty("GUID", out var g) && g.ValueKind == JsonValueKind.String ? g.GetString()?.ToUpperInvariant() : null;
            age = pdb.TryGetProperty("age", out var a) && a.ValueKind == JsonValueKind.Number && a.TryGetInt32(out var ageValue) ? ageValue : 0;
        }

        var symbolTable = new Dictionary<string, ulong>(StringComparer.Ordinal);
        foreach (var symbol in symbols.EnumerateObject())
        {
            if (symbol.Value.ValueKind == JsonValueKind.Object && symbol.Value.TryGetProperty("address", out var address)
                && address.ValueKind == JsonValueKind.Number && address.TryGetUInt64(out var value))
            {
                symbolTable[symbol.Name] = value;
            }
        }

        var types = new Dictionary<string, IsfType>(StringComparer.Ordinal);
        foreach (var type in userTypes.EnumerateObject())
        {
            if (type.Value.ValueKind != JsonValueKind.Object)
            {
                continue;
            }

            var size = type.Value.TryGetProperty("size", out var s) && s.ValueKind == JsonValueKind.Number && s.TryGetInt32(out var sizeValue) ? sizeValue : 0;
            var fields = new Dictionary<string, int>(StringComparer.Ordinal);
            if (type.Value.TryGetProperty("fields", out var f) && f.ValueKind == JsonValueKind.Object)
            {
                foreach (var field in f.EnumerateObject())
                {
                    if (field.Value.ValueKind == JsonValueKind.Object && field.Value.TryGetProperty("offset", out var offset)
                        && offset.ValueKind == JsonValueKind.Number && offset.TryGetInt32(out var offsetValue))
                    {
                        fields[field.Name] = offsetValue;
                    }
                }
            }

            types[type.Name] = new IsfType(size, fields);
        }

        if (symbolTable.Count == 0)
        {
            throw new WindowsProfileException(string.Create(CultureInfo.InvariantCulture, $"{source} is a symbol table without symbols."));
        }

        return new IsfSymbolTable(pdbName, guid, age, symbolTable, types);
    }

    private sealed record IsfType(int Size, Dictionary<string, int> Fields);
}
