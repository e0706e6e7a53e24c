namespace Nitro.Backends.Linux.Symbols;

/// <summary>One kernel symbol as kallsyms records it.</summary>
/// <param name="Name">The symbol name, e.g. <c>entry_SYSCALL_64</c>.</param>
/// <param name="Type">The <c>nm</c>-style type: <c>T</c>/<c>t</c> text, <c>D</c>/<c>d</c> data, <c>R</c>/<c>r</c> read-only data, <c>B</c>/<c>b</c> bss, <c>A</c> absolute (per-cpu offsets).</param>
/// <param name="Address">The virtual address, or for per-cpu symbols the offset into each CPU's per-cpu area.</param>
public readonly record struct KernelSymbol(string Name, char Type, ulong Address);

/// <summary>The symbol that contains an address: the nearest symbol at or below it.</summary>
/// <param name="Symbol">The symbol.</param>
/// <param name="Offset">How far the address lies past the symbol's start.</param>
public readonly record struct SymbolLocation(KernelSymbol Symbol, ulong Offset)
{
    /// <inheritdoc />
    public override string ToString() => Offset == 0 ? Symbol.Name : $"{Symbol.Name}+0x{Offset:x}";
}
