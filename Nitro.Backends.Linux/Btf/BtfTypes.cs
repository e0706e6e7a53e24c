using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;
using System.Text;
using Nitro.Backends.Linux.Profile;
using Nitro.Backends.Linux.Symbols;

namespace Nitro.Backends.Linux.Btf;

/// <summary>
/// The kernel's BPF Type Format blob (<c>CONFIG_DEBUG_INFO_BTF</c>, between <c>__start_BTF</c> and
/// <c>__stop_BTF</c>): struct layouts of the running build, so offsets such as
/// <c>task_struct.mm</c> are read from the guest instead of a prepared profile. Parsing is
/// bounded: every offset and length is checked, and damage raises a <see cref="ProfileException"/>
/// naming the blob offset.
/// </summary>
public sealed class BtfTypes
{
    private const ushort Magic = 0xEB9F;
    private const int HeaderSize = 24;
    private const int TypeRecordSize = 12;
    private const int MaxChainDepth = 64;
    private const int MaxBlobSize = 256 << 20;

    private readonly byte[] _blob;
    private readonly int _strings;
    private readonly int _stringsLength;
    private readonly int[] _positions;
    private readonly Dictionary<string, int> _aggregates = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _others = new(StringComparer.Ordinal);

    private BtfTypes(byte[] blob)
    {
        _blob = blob;
        if (blob.Length < HeaderSize)
        {
            throw Damaged(0, $"the blob of {blob.Length} bytes is shorter than the {HeaderSize}-byte header");
        }

        var magic = BinaryPrimitives.ReadUInt16LittleEndian(blob);
        if (magic != Magic)
        {
            throw Damaged(0, $"magic 0x{magic:x4} is not 0x{Magic:x4} (a big-endian or non-BTF blob)");
        }

        if (blob[2] != 1)
        {
            throw Damaged(2, $"version {blob[2]} is not supported (expected 1)");
        }

        var headerLength = BinaryPrimitives.ReadUInt32LittleEndian(blob.AsSpan(4));
        var typeOffset = BinaryPrimitives.ReadUInt32LittleEndian(blob.AsSpan(8));
        var typeLength = BinaryPrimitives.ReadUInt32LittleEndian(blob.AsSpan(12));
        var stringOffset = BinaryPrimitives.ReadUInt32LittleEndian(blob.AsSpan(16));
        var stringLength = BinaryPrimitives.ReadUInt32LittleEndian(blob.AsSpan(20));
        if (headerLength < HeaderSize || headerLength > (ulong)blob.Length)
        {
            throw Damaged(4, $"header length {headerLength} is outside [{HeaderSize}, {blob.Length}]");
        }

        var types = (ulong)headerLength + typeOffset;
        if (types + typeLength > (ulong)blob.Length)
        {
            throw Damaged(8, $"the type section [{types}, +{typeLength}) runs past the end of the {blob.Length}-byte blob");
        }

        var strings = (ulong)headerLength + stringOffset;
        if (strings + stringLength > (ulong)blob.Length)
        {
            throw Damaged(16, $"the string section [{strings}, +{stringLength}) runs past the end of the {blob.Length}-byte blob");
        }

        if (stringLength == 0 || blob[(int)strings] != 0 || blob[(int)(strings + stringLength - 1)] != 0)
        {
            throw Damaged((long)strings, "the string section must start and end with a NUL byte");
        }

        _strings = (int)strings;
        _stringsLength = (int)stringLength;
        _positions = IndexTypes((int)types, (int)typeLength);
        IndexNames();
    }

    /// <summary>Gets the number of types, not counting <c>void</c> (id 0); valid ids are 1…Count.</summary>
    public int Count => _positions.Length - 1;

    /// <summary>Parses a BTF blob.</summary>
    /// <param name="blob">The blob, starting with its header.</param>
    /// <returns>The types.</returns>
    /// <exception cref="ProfileException">The blob is damaged; the message names the offset.</exception>
    public static BtfTypes Parse(ReadOnlySpan<byte> blob) => new(blob.ToArray());

    /// <summary>Reads the running kernel's BTF blob from its image (<c>__start_BTF</c> … <c>__stop_BTF</c>).</summary>
    /// <param name="symbols">The kernel's symbols (for the blob's location and the image delta).</param>
    /// <returns>The types.</returns>
    /// <exception cref="ProfileException">The kernel has no BTF, or the blob is damaged.</exception>
    public static BtfTypes Read(KernelSymbols symbols)
    {
        ArgumentNullException.ThrowIfNull(symbols);
        if (!symbols.TryGetAddress("__start_BTF", out var start) || !symbols.TryGetAddress("__stop_BTF", out var stop))
        {
            throw new ProfileException("The guest kernel has no __start_BTF / __stop_BTF symbols: it was built without CONFIG_DEBUG_INFO_BTF, so struct offsets cannot be read from it.");
        }

        if (stop <= start || stop - start > MaxBlobSize)
        {
            throw new ProfileException($"The guest kernel's BTF range [0x{start:x}, 0x{stop:x}) is empty or larger than {MaxBlobSize >> 20} MiB; kallsyms may be damaged.");
        }

        var blob = new byte[(int)(stop - start)];
        symbols.ReadImage(start, blob);
        return new BtfTypes(blob);
    }

    /// <summary>Gets the kind of a type.</summary>
    /// <param name="typeId">The type id (0 is <c>void</c>).</param>
    /// <returns>The kind.</returns>
    /// <exception cref="ProfileException">The id is not a type of this blob.</exception>
    public BtfKind GetKind(int typeId) => typeId == 0 ? BtfKind.Void : (BtfKind)((Info(typeId) >> 24) & 0x1F);

    /// <summary>Gets the name of a type (empty for anonymous types).</summary>
    /// <param name="typeId">The type id.</param>
    /// <returns>The name.</returns>
    /// <exception cref="ProfileException">The id is not a type of this blob, or its name offset is damaged.</exception>
    public string GetName(int typeId) => typeId == 0 ? "void" : ReadString(BinaryPrimitives.ReadUInt32LittleEndian(_blob.AsSpan(Position(typeId))), Position(typeId));

    /// <summary>Finds a struct or union by name.</summary>
    /// <param name="name">The name, e.g. <c>task_struct</c>.</param>
    /// <param name="typeId">The type id.</param>
    /// <returns>Whether it exists.</returns>
    public bool TryFindAggregate(string name, out int typeId) => _aggregates.TryGetValue(name, out typeId);

    /// <summary>Finds a named type of any kind: a struct or union first, else a typedef, enum, integer, function …</summary>
    /// <param name="name">The name.</param>
    /// <param name="typeId">The type id.</param>
    /// <returns>Whether it exists.</returns>
    public bool TryFindType(string name, out int typeId) => _aggregates.TryGetValue(name, out typeId) || _others.TryGetValue(name, out typeId);

    /// <summary>Finds a struct or union that must exist.</summary>
    /// <param name="name">The name.</param>
    /// <returns>The type id.</returns>
    /// <exception cref="ProfileException">There is no such struct or union.</exception>
    public int FindAggregate(string name) =>
        TryFindAggregate(name, out var id) ? id : throw new ProfileException($"The guest kernel's BTF has no struct or union named '{name}'; this kernel version may not be supported.");

    /// <summary>Gets the direct members of a struct or union.</summary>
    /// <param name="typeId">The struct or union id.</param>
    /// <returns>The members in declaration order.</returns>
    /// <exception cref="ProfileException">The type is not a struct or union.</exception>
    public IReadOnlyList<BtfMember> GetMembers(int typeId)
    {
        var kind = GetKind(typeId);
        if (kind is not (BtfKind.Struct or BtfKind.Union))
        {
            throw new ProfileException($"BTF type {typeId} ('{GetName(typeId)}') is a {kind}, not a struct or union.");
        }

        var position = Position(typeId);
        var kindFlag = (Info(typeId) & 0x8000_0000) != 0;
        var count = Vlen(typeId);
        var members = new BtfMember[count];
        for (var i = 0; i < count; i++)
        {
            var record = _blob.AsSpan(position + TypeRecordSize + (12 * i));
            var name = ReadString(BinaryPrimitives.ReadUInt32LittleEndian(record), position);
            var type = BinaryPrimitives.ReadUInt32LittleEndian(record[4..]);
            var offset = BinaryPrimitives.ReadUInt32LittleEndian(record[8..]);
            CheckId(type, position);
            members[i] = kindFlag
                ? new BtfMember(name, (int)type, offset & 0xFF_FFFF, (int)(offset >> 24))
                : new BtfMember(name, (int)type, offset, 0);
        }

        return members;
    }

    /// <summary>Finds a member by name, looking inside anonymous struct and union members and adding their offsets.</summary>
    /// <param name="typeId">The struct or union id.</param>
    /// <param name="name">The member name.</param>
    /// <param name="member">The member, with its bit offset from the start of <paramref name="typeId"/>.</param>
    /// <returns>Whether the member exists.</returns>
    public bool TryGetMember(int typeId, string name, out BtfMember member) => TryGetMember(typeId, name, 0, 0, out member);

    /// <summary>Gets the byte offset of a member path such as <c>mm</c> or <c>f_path.dentry</c>.</summary>
    /// <param name="aggregate">The struct or union name, e.g. <c>file</c>.</param>
    /// <param name="path">Member names separated by dots; each step but the last must be an embedded struct or union.</param>
    /// <returns>The offset in bytes from the start of <paramref name="aggregate"/>.</returns>
    /// <exception cref="ProfileException">The struct or a member is missing, or a step goes through a pointer.</exception>
    public ulong OffsetOf(string aggregate, string path) => GetMemberPath(aggregate, path).Offset;

    /// <summary>Gets the last member of a member path, with its bit offset from the start of <paramref name="aggregate"/>.</summary>
    /// <param name="aggregate">The struct or union name.</param>
    /// <param name="path">Member names separated by dots.</param>
    /// <returns>The member (its <see cref="BtfMember.TypeId"/> is the member's declared type).</returns>
    /// <exception cref="ProfileException">The struct or a member is missing, or a step goes through a pointer.</exception>
    public BtfMember GetMemberPath(string aggregate, string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var current = FindAggregate(aggregate);
        var bits = 0UL;
        BtfMember member = default;
        var steps = path.Split('.');
        for (var i = 0; i < steps.Length; i++)
        {
            if (i > 0)
            {
                current = SkipModifiers(member.TypeId);
                if (GetKind(current) is not (BtfKind.Struct or BtfKind.Union))
                {
                    throw new ProfileException($"BTF: '{aggregate}.{string.Join('.', steps, 0, i)}' is a {GetKind(current)}, not an embedded struct or union, so '{path}' has no fixed offset.");
                }
            }

            if (!TryGetMember(current, steps[i], out member))
            {
                throw new ProfileException($"The guest kernel's BTF has no member '{steps[i]}' in '{GetName(current)}' (path '{aggregate}.{path}'); this kernel version may not be supported.");
            }

            bits += member.BitOffset;
        }

        return member with { BitOffset = bits };
    }

    /// <summary>Follows typedef, const, volatile, restrict and type-tag links to the underlying type.</summary>
    /// <param name="typeId">A type id.</param>
    /// <returns>The id of the first type that is none of those.</returns>
    /// <exception cref="ProfileException">The chain is damaged or cyclic.</exception>
    public int SkipModifiers(int typeId)
    {
        for (var depth = 0; depth < MaxChainDepth; depth++)
        {
            if (GetKind(typeId) is not (BtfKind.Typedef or BtfKind.Const or BtfKind.Volatile or BtfKind.Restrict or BtfKind.TypeTag))
            {
                return typeId;
            }

            typeId = Referenced(typeId);
        }

        throw Damaged(Position(typeId), $"type {typeId} starts a modifier chain longer than {MaxChainDepth} links (cycle?)");
    }

    /// <summary>Gets the size of a type in bytes.</summary>
    /// <param name="typeId">A type id.</param>
    /// <returns>The size.</returns>
    /// <exception cref="ProfileException">The type has no size (void, function, forward declaration) or the chain is damaged.</exception>
    public ulong SizeOf(int typeId) => SizeOf(typeId, 0);

    /// <summary>Gets the size of a named struct or union (else any named type) in bytes.</summary>
    /// <param name="name">The type name.</param>
    /// <returns>The size.</returns>
    /// <exception cref="ProfileException">There is no such type or it has no size.</exception>
    public ulong SizeOf(string name) =>
        TryFindType(name, out var id) ? SizeOf(id) : throw new ProfileException($"The guest kernel's BTF has no type named '{name}'.");

    /// <summary>Gets the element type and length of an array type (after skipping modifiers).</summary>
    /// <param name="typeId">A type id.</param>
    /// <param name="elementType">The element type id.</param>
    /// <param name="length">The number of elements.</param>
    /// <returns>Whether the type is an array.</returns>
    public bool TryGetArray(int typeId, out int elementType, out uint length)
    {
        typeId = SkipModifiers(typeId);
        elementType = 0;
        length = 0;
        if (GetKind(typeId) != BtfKind.Array)
        {
            return false;
        }

        var record = _blob.AsSpan(Position(typeId) + TypeRecordSize);
        var element = BinaryPrimitives.ReadUInt32LittleEndian(record);
        CheckId(element, Position(typeId));
        elementType = (int)element;
        length = BinaryPrimitives.ReadUInt32LittleEndian(record[8..]);
        return true;
    }

    /// <summary>Gets the type a pointer, typedef, modifier, variable or function refers to.</summary>
    /// <param name="typeId">A type id.</param>
    /// <returns>The referenced type id.</returns>
    /// <exception cref="ProfileException">The kind refers to no type, or the reference is damaged.</exception>
    public int Referenced(int typeId)
    {
        var kind = GetKind(typeId);
        if (kind is not (BtfKind.Pointer or BtfKind.Typedef or BtfKind.Volatile or BtfKind.Const or BtfKind.Restrict
            or BtfKind.TypeTag or BtfKind.Function or BtfKind.FunctionPrototype or BtfKind.Variable or BtfKind.DeclarationTag))
        {
            throw new ProfileException($"BTF type {typeId} ('{GetName(typeId)}') is a {kind}, which refers to no other type.");
        }

        var target = BinaryPrimitives.ReadUInt32LittleEndian(_blob.AsSpan(Position(typeId) + 8));
        CheckId(target, Position(typeId));
        return (int)target;
    }

    private static ProfileException Damaged(long offset, string what) =>
        new($"The guest kernel's BTF blob is damaged at offset 0x{offset:x}: {what}. The guest memory may be corrupt or the kernel is not supported.");

    private static int ExtraSize(BtfKind kind, int vlen) => kind switch
    {
        BtfKind.Int or BtfKind.Variable or BtfKind.DeclarationTag => 4,
        BtfKind.Array => 12,
        BtfKind.Struct or BtfKind.Union or BtfKind.DataSection or BtfKind.Enum64 => 12 * vlen,
        BtfKind.Enum or BtfKind.FunctionPrototype => 8 * vlen,
        BtfKind.Pointer or BtfKind.Forward or BtfKind.Typedef or BtfKind.Volatile or BtfKind.Const or BtfKind.Restrict
            or BtfKind.Function or BtfKind.Float or BtfKind.TypeTag => 0,
        _ => -1,
    };

    private void IndexNames()
    {
        for (var id = 1; id < _positions.Length; id++)
        {
            var kind = GetKind(id);
            var nameOffset = BinaryPrimitives.ReadUInt32LittleEndian(_blob.AsSpan(_positions[id]));
            if (nameOffset == 0)
            {
                continue;
            }

            var name = GetName(id);
            if (kind is BtfKind.Struct or BtfKind.Union)
            {
                // Prefer the first definition that has members over an empty one.
                if (!_aggregates.TryGetValue(name, out var existing) || (Vlen(existing) == 0 && Vlen(id) > 0))
                {
                    _aggregates[name] = id;
                }
            }
            else
            {
                _others.TryAdd(name, id);
            }
        }
    }

    private int[] IndexTypes(int start, int length)
    {
        var positions = new List<int> { 0 };
        var end = start + length;
        var position = start;
        while (position < end)
        {
            if (end - position < TypeRecordSize)
            {
                throw Damaged(position, $"a type record needs {TypeRecordSize} bytes but only {end - position} remain in the type section");
            }

            var info = BinaryPrimitives.ReadUInt32LittleEndian(_blob.AsSpan(position + 4));
            var kind = (BtfKind)((info >> 24) & 0x1F);
            var extra = ExtraSize(kind, (int)(info & 0xFFFF));
            if (extra < 0 || kind == BtfKind.Void)
            {
                throw Damaged(position, $"type {positions.Count} has unknown kind {(int)kind}");
            }

            if (end - position - TypeRecordSize < extra)
            {
                throw Damaged(position, $"type {positions.Count} ({kind}) needs {extra} more bytes than the type section holds");
            }

            positions.Add(position);
            position += TypeRecordSize + extra;
        }

        return positions.ToArray();
    }

    private bool TryGetMember(int typeId, string name, ulong baseBits, int depth, out BtfMember member)
    {
        if (depth > MaxChainDepth)
        {
            throw Damaged(Position(typeId), $"anonymous members nest deeper than {MaxChainDepth} levels (cycle?)");
        }

        foreach (var candidate in GetMembers(typeId))
        {
            if (string.Equals(candidate.Name, name, StringComparison.Ordinal))
            {
                member = candidate with { BitOffset = baseBits + candidate.BitOffset };
                return true;
            }

            if (candidate.Name.Length == 0)
            {
                var inner = SkipModifiers(candidate.TypeId);
                if (GetKind(inner) is BtfKind.Struct or BtfKind.Union
                    && TryGetMember(inner, name, baseBits + candidate.BitOffset, depth + 1, out member))
                {
                    return true;
                }
            }
        }

        member = default;
        return false;
    }

    private ulong SizeOf(int typeId, int depth)
    {
        if (depth > MaxChainDepth)
        {
            throw Damaged(Position(typeId), $"the size of type {typeId} depends on a chain longer than {MaxChainDepth} links (cycle?)");
        }

        var kind = GetKind(typeId);
        switch (kind)
        {
            case BtfKind.Int or BtfKind.Struct or BtfKind.Union or BtfKind.Enum or BtfKind.Enum64 or BtfKind.Float or BtfKind.DataSection:
                return BinaryPrimitives.ReadUInt32LittleEndian(_blob.AsSpan(Position(typeId) + 8));
            case BtfKind.Pointer:
                return 8;
            case BtfKind.Array:
                TryGetArray(typeId, out var element, out var length);
                var elementSize = SizeOf(element, depth + 1);
                return elementSize != 0 && length > ulong.MaxValue / elementSize
                    ? throw Damaged(Position(typeId), $"array type {typeId} of {length} elements of {elementSize} bytes overflows")
                    : length * elementSize;
            case BtfKind.Typedef or BtfKind.Const or BtfKind.Volatile or BtfKind.Restrict or BtfKind.TypeTag or BtfKind.Variable:
                return SizeOf(Referenced(typeId), depth + 1);
            default:
                throw new ProfileException($"BTF type {typeId} ('{GetName(typeId)}') is a {kind}, which has no size.");
        }
    }

    private int Position(int typeId)
    {
        if ((uint)typeId >= (uint)_positions.Length || typeId == 0)
        {
            ThrowBadId(typeId);
        }

        return _positions[typeId];
    }

    private uint Info(int typeId) => BinaryPrimitives.ReadUInt32LittleEndian(_blob.AsSpan(Position(typeId) + 4));

    private int Vlen(int typeId) => (int)(Info(typeId) & 0xFFFF);

    private void CheckId(uint typeId, int position)
    {
        if (typeId >= (uint)_positions.Length)
        {
            throw Damaged(position, $"a reference to type {typeId} lies past the last type {Count}");
        }
    }

    [DoesNotReturn]
    private void ThrowBadId(int typeId) =>
        throw new ProfileException($"BTF type id {typeId} does not exist (valid ids are 1…{Count}).");

    private string ReadString(uint offset, int referencedFrom)
    {
        if (offset >= (uint)_stringsLength)
        {
            throw Damaged(referencedFrom, $"name offset {offset} lies past the {_stringsLength}-byte string section");
        }

        var span = _blob.AsSpan(_strings + (int)offset, _stringsLength - (int)offset);
        var length = span.IndexOf((byte)0);
        return Encoding.UTF8.GetString(span[..length]);
    }
}
