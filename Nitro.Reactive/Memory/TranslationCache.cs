using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Nitro.Reactive.Memory;

/// <summary>
/// A cache of virtual-to-physical page translations keyed by page-table root and virtual page,
/// shared by any number of <see cref="X86AddressSpace"/> instances and safe to use from several
/// vCPU listener threads at once. Translations are cached at 4 KiB granularity, also for 2 MiB
/// and 1 GiB pages.
/// </summary>
/// <remarks>
/// <para>
/// The cache is <b>not</b> coherent with the guest's page tables: when the guest changes a
/// mapping, a cached translation stays until you call one of the <c>Invalidate</c> overloads.
/// Call <see cref="Invalidate()"/> whenever cached translations may have gone stale, for example
/// once per batch of traps, or after the guest ran for a while between two observed events.
/// </para>
/// <para>
/// An invalidation also covers translations that were being computed while it ran: a page walk
/// that started before the call does not put its (possibly stale) result into the cache.
/// </para>
/// </remarks>
public sealed class TranslationCache
{
    /// <summary>The default number of entries (4096: 16 MiB of contiguous 4 KiB pages per root).</summary>
    public const int DefaultCapacity = 4096;

    private const int Stripes = 16;
    private const ulong RootHashMultiplier = 0x9E37_79B9_7F4A_7C15;

    // Thread safety: each entry is guarded by its own sequence lock. A writer moves Sequence from
    // even to odd with a compare-exchange (skipping the insert if another writer holds the entry),
    // writes the fields, and publishes Sequence + 2. A reader reads Sequence, the fields (each an
    // acquire load, so the second Sequence read cannot move above them), and Sequence again; a
    // torn entry shows up as an odd or changed sequence and is treated as a miss. Readers never
    // write shared state except their counter stripe, so concurrent hits from several vCPU threads
    // do not contend. A per-thread cache was rejected because listener threads would then each
    // repeat the same walks and each need invalidating.
    //
    // Validity: Invalidate() bumps _generation, which every lookup compares with the entry's, so
    // clearing everything is O(1); an entry carries the generation its walk started under, so a
    // walk that overlapped Invalidate() inserts an entry that is already dead. Every invalidation
    // also bumps _epoch; an insert re-checks the epoch its walk started under while holding the
    // entry's lock and drops its result if a root or page invalidation happened in between.
    private readonly Entry[] _entries;
    private readonly ulong _mask;
    private readonly Counter[] _hits = new Counter[Stripes];
    private readonly Counter[] _misses = new Counter[Stripes];
    private long _generation = 1;
    private long _epoch;

    /// <summary>Initializes a new instance.</summary>
    /// <param name="capacity">The number of entries, rounded up to a power of two (at least 16, at most 2^24).</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="capacity"/> is less than 1 or more than 2^24.</exception>
    public TranslationCache(int capacity = DefaultCapacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(capacity, 1 << 24);
        var size = (int)Math.Max(16, System.Numerics.BitOperations.RoundUpToPowerOf2((uint)capacity));
        _entries = new Entry[size];
        _mask = (ulong)size - 1;
    }

    /// <summary>Gets the number of entries.</summary>
    public int Capacity => _entries.Length;

    /// <summary>
    /// Gets the number of lookups answered from the cache. Exact when one thread translates; with
    /// several threads an increment may rarely be lost (the counters are striped, not locked, to
    /// keep hits cheap).
    /// </summary>
    public long Hits => Sum(_hits);

    /// <summary>Gets the number of lookups that needed a page walk (see <see cref="Hits"/> for accuracy).</summary>
    public long Misses => Sum(_misses);

    /// <summary>Drops every cached translation. Takes constant time.</summary>
    public void Invalidate()
    {
        Interlocked.Increment(ref _epoch);
        Interlocked.Increment(ref _generation);
    }

    /// <summary>
    /// Drops the cached translations of one page-table root. Takes time proportional to
    /// <see cref="Capacity"/>. Conservative: the root is compared without the PCID, no-flush and
    /// KPTI bits, so a user CR3 and its kernel twin are dropped together.
    /// </summary>
    /// <param name="cr3">A CR3 value or page-table root (<see cref="X86AddressSpace.Root"/>).</param>
    public void Invalidate(ulong cr3)
    {
        Interlocked.Increment(ref _epoch);
        var root = cr3 & PageTableBits.Cr3KptiAddressMask;
        var entries = _entries;
        for (var i = 0; i < entries.Length; i++)
        {
            // Sequence first: a writer that takes the entry after this read sees the new epoch and drops its insert.
            ref var entry = ref entries[i];
            var sequence = Volatile.Read(ref entry.Sequence);
            var tag = Volatile.Read(ref entry.Tag);
            if ((tag & PageTableBits.Cr3KptiAddressMask) == root || (sequence & 1) != 0 || Volatile.Read(ref entry.Sequence) != sequence)
            {
                Clear(ref entry, root, matchPage: false, 0);
            }
        }
    }

    /// <summary>
    /// Drops the cached translation of one 4 KiB virtual page of one page-table root. For a
    /// changed 2 MiB or 1 GiB mapping, invalidate the root or the whole cache instead.
    /// </summary>
    /// <param name="cr3">A CR3 value or page-table root (<see cref="X86AddressSpace.Root"/>).</param>
    /// <param name="virtualAddress">Any address within the page.</param>
    public void Invalidate(ulong cr3, ulong virtualAddress)
    {
        Interlocked.Increment(ref _epoch);
        var root = cr3 & PageTableBits.Cr3KptiAddressMask;
        var page = virtualAddress >> 12;

        // The entry may sit under either KPTI twin of the root and either paging mode.
        for (var variant = 0UL; variant < 4; variant++)
        {
            var tag = root | ((variant & 2) << 11) | X86AddressSpace.TagValid | ((variant & 1) * X86AddressSpace.TagFiveLevel);
            Clear(ref _entries[IndexOf(tag, page)], root, matchPage: true, page);
        }
    }

    /// <summary>Taken before a page walk; <see cref="Add"/> drops the result if an invalidation ran since.</summary>
    internal Ticket Begin() => new(Volatile.Read(ref _generation), Volatile.Read(ref _epoch));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal bool TryGet(ulong tag, ulong page, out ulong frame)
    {
        ref var entry = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(_entries), (nint)IndexOf(tag, page));
        var generation = Volatile.Read(ref _generation);
        var before = Volatile.Read(ref entry.Sequence);
        var entryTag = Volatile.Read(ref entry.Tag);
        var entryPage = Volatile.Read(ref entry.Page);
        var entryFrame = Volatile.Read(ref entry.Frame);
        var entryGeneration = Volatile.Read(ref entry.Generation);
        var after = Volatile.Read(ref entry.Sequence);
        var stripe = Environment.CurrentManagedThreadId & (Stripes - 1);
        if (entryTag == tag && entryPage == page && entryGeneration == generation && before == after && (before & 1) == 0)
        {
            _hits[stripe].Value++;
            frame = entryFrame;
            return true;
        }

        _misses[stripe].Value++;
        frame = 0;
        return false;
    }

    internal void Add(ulong tag, ulong page, ulong frame, Ticket ticket)
    {
        ref var entry = ref _entries[IndexOf(tag, page)];
        var sequence = Volatile.Read(ref entry.Sequence);
        if ((sequence & 1) != 0 || Interlocked.CompareExchange(ref entry.Sequence, sequence + 1, sequence) != sequence)
        {
            return; // another thread is writing this entry; it is only a cache
        }

        if (Volatile.Read(ref _epoch) == ticket.Epoch)
        {
            entry.Tag = tag;
            entry.Page = page;
            entry.Frame = frame;
            entry.Generation = ticket.Generation;
        }

        Volatile.Write(ref entry.Sequence, sequence + 2);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ulong IndexOf(ulong tag, ulong page) => (page + ((tag >> 12) * RootHashMultiplier >> 40)) & _mask;

    private static void Clear(ref Entry entry, ulong root, bool matchPage, ulong page)
    {
        var spinner = default(SpinWait);
        while (true)
        {
            var sequence = Volatile.Read(ref entry.Sequence);
            if ((sequence & 1) == 0 && Interlocked.CompareExchange(ref entry.Sequence, sequence + 1, sequence) == sequence)
            {
                if ((entry.Tag & PageTableBits.Cr3KptiAddressMask) == root && (!matchPage || entry.Page == page))
                {
                    entry.Tag = 0;
                    entry.Page = 0;
                    entry.Frame = 0;
                    entry.Generation = 0;
                }

                Volatile.Write(ref entry.Sequence, sequence + 2);
                return;
            }

            spinner.SpinOnce();
        }
    }

    private static long Sum(Counter[] counters)
    {
        long sum = 0;
        for (var i = 0; i < counters.Length; i++)
        {
            sum += Volatile.Read(ref counters[i].Value);
        }

        return sum;
    }

    internal readonly record struct Ticket(long Generation, long Epoch);

    private struct Entry
    {
        public long Sequence;
        public ulong Tag;
        public ulong Page;
        public ulong Frame;
        public long Generation;
    }

    // One cache line per stripe, so threads counting hits do not share a line.
    [StructLayout(LayoutKind.Explicit, Size = 64)]
    private struct Counter
    {
        [FieldOffset(0)]
        public long Value;
    }
}
