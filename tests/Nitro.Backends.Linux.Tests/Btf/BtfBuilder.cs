using System.Buffers.Binary;
using System.Text;
using Nitro.Backends.Linux.Btf;

namespace Nitro.Backends.Linux.Tests.Btf;

/// <summary>Writes little-endian BTF blobs for tests: one method per kind, ids handed out from 1.</summary>
internal sealed class BtfBuilder
{
    private readonly List<byte> _types = [];
    private readonly List<byte> _strings = [0];
    private readonly Dictionary<string, int> _stringOffsets = new(StringComparer.Ordinal) { [string.Empty] = 0 };
    private int _next = 1;

    public int Int(string name, int size, int bits = 0, int encoding = 0) =>
        Add(name, BtfKind.Int, 0, false, (uint)size, [(uint)((encoding << 24) | (bits == 0 ? size * 8 : bits))]);

    public int Pointer(int target) => Add(string.Empty, BtfKind.Pointer, 0, false, (uint)target, []);

    public int Array(int element, int indexType, int length) => Add(string.Empty, BtfKind.Array, 0, false, 0, [(uint)element, (uint)indexType, (uint)length]);

    public int Struct(string name, int size, params (string Name, int Type, int BitOffset, int BitfieldSize)[] members) =>
        Aggregate(BtfKind.Struct, name, size, members);

    public int Union(string name, int size, params (string Name, int Type, int BitOffset, int BitfieldSize)[] members) =>
        Aggregate(BtfKind.Union, name, size, members);

    public int Enum(string name, params (string Name, int Value)[] values)
    {
        var extra = new List<uint>();
        foreach (var (n, v) in values)
        {
            extra.Add((uint)String(n));
            extra.Add((uint)v);
        }

        return Add(name, BtfKind.Enum, values.Length, false, 4, extra.ToArray());
    }

    public int Enum64(string name, params (string Name, long Value)[] values)
    {
        var extra = new List<uint>();
        foreach (var (n, v) in values)
        {
            extra.Add((uint)String(n));
            extra.Add((uint)v);
            extra.Add((uint)(v >> 32));
        }

        return Add(name, BtfKind.Enum64, values.Length, false, 8, extra.ToArray());
    }

    public int Forward(string name, bool union = false) => Add(name, BtfKind.Forward, 0, union, 0, []);

    public int Typedef(string name, int target) => Add(name, BtfKind.Typedef, 0, false, (uint)target, []);

    public int Volatile(int target) => Add(string.Empty, BtfKind.Volatile, 0, false, (uint)target, []);

    public int Const(int target) => Add(string.Empty, BtfKind.Const, 0, false, (uint)target, []);

    public int Restrict(int target) => Add(string.Empty, BtfKind.Restrict, 0, false, (uint)target, []);

    public int Function(string name, int prototype) => Add(name, BtfKind.Function, 1, false, (uint)prototype, []);

    public int FunctionPrototype(int returnType, params (string Name, int Type)[] parameters)
    {
        var extra = new List<uint>();
        foreach (var (n, t) in parameters)
        {
            extra.Add((uint)String(n));
            extra.Add((uint)t);
        }

        return Add(string.Empty, BtfKind.FunctionPrototype, parameters.Length, false, (uint)returnType, extra.ToArray());
    }

    public int Variable(string name, int type) => Add(name, BtfKind.Variable, 0, false, (uint)type, [1]);

    public int DataSection(string name, int size, params (int Type, int Offset, int Size)[] variables)
    {
        var extra = new List<uint>();
        foreach (var (t, o, s) in variables)
        {
            extra.Add((uint)t);
            extra.Add((uint)o);
            extra.Add((uint)s);
        }

        return Add(name, BtfKind.DataSection, variables.Length, false, (uint)size, extra.ToArray());
    }

    public int Float(string name, int size) => Add(name, BtfKind.Float, 0, false, (uint)size, []);

    public int DeclarationTag(string name, int target, int component) => Add(name, BtfKind.DeclarationTag, 0, false, (uint)target, [(uint)component]);

    public int TypeTag(string name, int target) => Add(name, BtfKind.TypeTag, 0, false, (uint)target, []);

    /// <summary>Adds a raw type record (for damaged input).</summary>
    public int Raw(uint nameOffset, uint info, uint sizeOrType, params uint[] extra)
    {
        foreach (var value in new[] { nameOffset, info, sizeOrType }.Concat(extra))
        {
            Write(_types, value);
        }

        return _next++;
    }

    public byte[] Build()
    {
        var blob = new List<byte>();
        blob.Add(0x9F);
        blob.Add(0xEB);
        blob.Add(1);
        blob.Add(0);
        Write(blob, 24);
        Write(blob, 0);
        Write(blob, (uint)_types.Count);
        Write(blob, (uint)_types.Count);
        Write(blob, (uint)_strings.Count);
        blob.AddRange(_types);
        blob.AddRange(_strings);
        return blob.ToArray();
    }

    private int Aggregate(BtfKind kind, string name, int size, (string Name, int Type, int BitOffset, int BitfieldSize)[] members)
    {
        var kindFlag = members.Any(m => m.BitfieldSize != 0);
        var extra = new List<uint>();
        foreach (var member in members)
        {
            extra.Add((uint)String(member.Name));
            extra.Add((uint)member.Type);
            extra.Add(kindFlag ? (uint)((member.BitfieldSize << 24) | member.BitOffset) : (uint)member.BitOffset);
        }

        return Add(name, kind, members.Length, kindFlag, (uint)size, extra.ToArray());
    }

    private int Add(string name, BtfKind kind, int vlen, bool kindFlag, uint sizeOrType, uint[] extra)
    {
        var info = ((uint)kind << 24) | (uint)vlen | (kindFlag ? 0x8000_0000u : 0);
        return Raw((uint)String(name), info, sizeOrType, extra);
    }

    private int String(string value)
    {
        if (!_stringOffsets.TryGetValue(value, out var offset))
        {
            offset = _strings.Count;
            _strings.AddRange(Encoding.UTF8.GetBytes(value));
            _strings.Add(0);
            _stringOffsets[value] = offset;
        }

        return offset;
    }

    private static void Write(List<byte> output, uint value)
    {
        Span<byte> buffer = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(buffer, value);
        output.AddRange(buffer.ToArray());
    }
}
