namespace Nitro.Backends.Linux.Btf;

/// <summary>The kind of a BTF type (<c>BTF_KIND_*</c>).</summary>
public enum BtfKind
{
    /// <summary>Type id 0: <c>void</c>.</summary>
    Void = 0,

    /// <summary>An integer, <c>char</c> or <c>bool</c>.</summary>
    Int = 1,

    /// <summary>A pointer.</summary>
    Pointer = 2,

    /// <summary>An array.</summary>
    Array = 3,

    /// <summary>A struct.</summary>
    Struct = 4,

    /// <summary>A union.</summary>
    Union = 5,

    /// <summary>An enumeration with 32-bit values.</summary>
    Enum = 6,

    /// <summary>A forward declaration.</summary>
    Forward = 7,

    /// <summary>A typedef.</summary>
    Typedef = 8,

    /// <summary>The <c>volatile</c> modifier.</summary>
    Volatile = 9,

    /// <summary>The <c>const</c> modifier.</summary>
    Const = 10,

    /// <summary>The <c>restrict</c> modifier.</summary>
    Restrict = 11,

    /// <summary>A function.</summary>
    Function = 12,

    /// <summary>A function prototype.</summary>
    FunctionPrototype = 13,

    /// <summary>A variable.</summary>
    Variable = 14,

    /// <summary>A data section.</summary>
    DataSection = 15,

    /// <summary>A floating-point type.</summary>
    Float = 16,

    /// <summary>A declaration tag.</summary>
    DeclarationTag = 17,

    /// <summary>A type tag.</summary>
    TypeTag = 18,

    /// <summary>An enumeration with 64-bit values.</summary>
    Enum64 = 19,
}

/// <summary>A member of a BTF struct or union.</summary>
/// <param name="Name">The member name (empty for an anonymous struct or union member).</param>
/// <param name="TypeId">The member's type id.</param>
/// <param name="BitOffset">The offset from the start of the containing type, in bits.</param>
/// <param name="BitfieldSize">The width of a bitfield in bits, or 0 for an ordinary member.</param>
public readonly record struct BtfMember(string Name, int TypeId, ulong BitOffset, int BitfieldSize)
{
    /// <summary>Gets the byte offset of the member (the byte that holds its first bit).</summary>
    public ulong Offset => BitOffset / 8;
}
