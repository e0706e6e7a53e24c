using Nitro.Reactive.Memory;

namespace Nitro.Backends.Windows.Tracing;

/// <summary>
/// The caller's memory as seen from a handler trap: readable, but writes are refused, because the
/// kernel copied the stack arguments to its own stack before calling the handler, so a write to
/// the user stack would change nothing the call sees.
/// </summary>
internal sealed class CopiedArgumentsMemory(IVirtualMemory inner) : IVirtualMemory
{
    public void Read(ulong virtualAddress, Span<byte> destination) => inner.Read(virtualAddress, destination);

    public int ReadPartial(ulong virtualAddress, Span<byte> destination) => inner.ReadPartial(virtualAddress, destination);

    public void Write(ulong virtualAddress, ReadOnlySpan<byte> source) => throw new NotSupportedException(
        "At a Windows handler the kernel has already copied the stack arguments: change arguments at the system call entry (trace without a handler plan).");
}
