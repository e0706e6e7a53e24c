using System.Reactive.Linq;
using Nitro.Reactive.Events;

namespace Nitro.Reactive.Linq;

public static partial class SyscallObservable
{
    /// <summary>
    /// Merges the per-vCPU streams of a listener (one thread per vCPU) into one stream that keeps
    /// the Rx grammar: calls to <c>OnNext</c> never overlap, each event keeps its
    /// <see cref="NitroEvent.Vcpu"/>, and an error on any vCPU ends the merged stream. While one
    /// vCPU's event is being observed, other vCPUs that trap wait (they stay paused).
    /// </summary>
    /// <param name="perVcpu">One stream per vCPU.</param>
    /// <returns>The merged stream; it completes when every vCPU stream has completed.</returns>
    public static IObservable<NitroEvent> MergeVcpus(this IEnumerable<IObservable<NitroEvent>> perVcpu)
    {
        ArgumentNullException.ThrowIfNull(perVcpu);
        return perVcpu.Merge();
    }
}
