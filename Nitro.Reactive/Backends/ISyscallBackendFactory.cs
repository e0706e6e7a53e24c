using System.Diagnostics.CodeAnalysis;
using Nitro.Reactive.Memory;

namespace Nitro.Reactive.Backends;

/// <summary>
/// Creates the OS back end of a running guest from its memory alone (Linux: kallsyms and BTF read
/// out of the guest). A live session asks it repeatedly while the guest boots, until the kernel is
/// far enough for the back end to plan its traps. The back end it creates must also be an
/// <see cref="Listening.ITrapPlanner"/>.
/// </summary>
public interface ISyscallBackendFactory
{
    /// <summary>Gets the name of the guest OS family, for messages (<c>Linux</c>).</summary>
    string Name { get; }

    /// <summary>Tries to create the back end; the guest should be paused (or held) meanwhile.</summary>
    /// <param name="memory">The guest's physical memory.</param>
    /// <param name="backend">Receives the back end.</param>
    /// <param name="notReady">Receives why not yet (the kernel is still booting, or is not of this family).</param>
    /// <param name="cancellationToken">Cancels a long memory scan.</param>
    /// <returns><see langword="true"/> when <paramref name="backend"/> is set.</returns>
    bool TryCreate(IGuestMemory memory, [NotNullWhen(true)] out SyscallBackend? backend, out string? notReady, CancellationToken cancellationToken = default);
}
