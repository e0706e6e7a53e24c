using System.Collections.Frozen;

namespace Nitro.Reactive.Recording.Internal;

/// <summary>
/// A <c>WhereSyscall</c> fused into one replay's reader: which syscall records the reader hands
/// to its visitor. The verdict for an interned name is taken once per string id, so a record of
/// an unwanted call costs one array read instead of the two objects and the Rx hops it would
/// cost to build and drop it. One instance per reader: string ids belong to one file.
/// </summary>
internal sealed class SyscallNameFilter(FrozenSet<string> names, CancellationToken cancellationToken)
{
    private const byte Unknown = 0;
    private const byte Wanted = 1;
    private const byte Unwanted = 2;

    private byte[] _verdicts = new byte[64];

    /// <summary>Gets the token of the replay's subscription: dropped records stop the read on disposal as delivered ones do.</summary>
    public CancellationToken CancellationToken => cancellationToken;

    /// <summary>Whether the call named <paramref name="name"/> (interned string <paramref name="id"/>, or <see cref="TraceFormat.InlineString"/>) passes.</summary>
    public bool Wants(uint id, string name)
    {
        if (id == TraceFormat.InlineString)
        {
            return names.Contains(name);
        }

        var verdicts = _verdicts;
        if (id < (uint)verdicts.Length && verdicts[id] != Unknown)
        {
            return verdicts[id] == Wanted;
        }

        return Decide(id, name);
    }

    private bool Decide(uint id, string name)
    {
        if (id >= (uint)_verdicts.Length)
        {
            // Ids are bounded by TraceFormat.MaxInternedStrings, and the reader checked this one is defined.
            Array.Resize(ref _verdicts, (int)Math.Max(id + 1, (uint)_verdicts.Length * 2));
        }

        var wanted = names.Contains(name);
        _verdicts[id] = wanted ? Wanted : Unwanted;
        return wanted;
    }
}
