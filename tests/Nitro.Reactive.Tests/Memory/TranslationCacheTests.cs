using System.Reflection;
using Nitro.Reactive.Memory;

namespace Nitro.Reactive.Tests.Memory;

public sealed class TranslationCacheTests
{
    private const ulong Page = 0x0000_5555_0000_0000;

    [Test]
    public void Second_translation_of_a_page_is_a_hit()
    {
        var cache = new TranslationCache();
        var space = new PageTableBuilder().Map4K(Page, 0x5000).AddressSpace(cache);

        var first = space.Translate(Page + 0x10);
        var second = space.Translate(Page + 0x20);

        Assert.Multiple(() =>
        {
            Assert.That(first, Is.EqualTo(0x5010UL));
            Assert.That(second, Is.EqualTo(0x5020UL));
            Assert.That(cache.Misses, Is.EqualTo(1));
            Assert.That(cache.Hits, Is.EqualTo(1));
        });
    }

    [Test]
    public void A_cached_translation_does_not_read_the_page_tables_again()
    {
        var builder = new PageTableBuilder().Map4K(Page, 0x5000);
        var counting = new X86AddressSpaceTests.CountingMemory(builder.Memory);
        var space = new X86AddressSpace(counting, builder.Root, cache: new TranslationCache());

        space.Translate(Page);
        var readsAfterWalk = counting.Reads;
        space.Translate(Page + 8);

        Assert.Multiple(() =>
        {
            Assert.That(readsAfterWalk, Is.EqualTo(4));
            Assert.That(counting.Reads, Is.EqualTo(4));
        });
    }

    [Test]
    public void Large_pages_are_cached_per_4KiB_page()
    {
        var cache = new TranslationCache();
        var space = new PageTableBuilder().Map2M(Page, PageTableBuilder.LargeRegion).AddressSpace(cache);

        space.Translate(Page + 0x1000);
        var other = space.Translate(Page + 0x5_0008);
        var again = space.Translate(Page + 0x5_0010);

        Assert.Multiple(() =>
        {
            Assert.That(other, Is.EqualTo(PageTableBuilder.LargeRegion + 0x5_0008));
            Assert.That(again, Is.EqualTo(PageTableBuilder.LargeRegion + 0x5_0010));
            Assert.That(cache.Misses, Is.EqualTo(2));
            Assert.That(cache.Hits, Is.EqualTo(1));
        });
    }

    [Test]
    public void Without_Invalidate_a_changed_mapping_still_returns_the_stale_translation()
    {
        var builder = new PageTableBuilder().Map4K(Page, 0x5000);
        var space = builder.AddressSpace(new TranslationCache());
        space.Translate(Page);

        builder.Map4K(Page, 0x6000);

        Assert.That(space.Translate(Page), Is.EqualTo(0x5000UL), "documented: the cache is not coherent with guest page tables");
    }

    [Test]
    public void Invalidate_makes_a_changed_mapping_visible()
    {
        var builder = new PageTableBuilder().Map4K(Page, 0x5000);
        var cache = new TranslationCache();
        var space = builder.AddressSpace(cache);
        space.Translate(Page);

        builder.Map4K(Page, 0x6000);
        cache.Invalidate();

        Assert.That(space.Translate(Page), Is.EqualTo(0x6000UL));
    }

    [Test]
    public void Invalidate_of_a_root_drops_only_that_root()
    {
        var cache = new TranslationCache();
        var builder = new PageTableBuilder().Map4K(Page, 0x5000).Map4K(Page + 0x1000, 0x7000);
        var space = builder.AddressSpace(cache);
        var otherRoot = builder.AllocateTable();
        builder.WriteEntryAt(otherRoot, (int)((Page >> 39) & 0x1FF), builder.GetEntry(Page, 4)); // shares the lower tables
        var other = new X86AddressSpace(builder.Memory, otherRoot, cache: cache);
        space.Translate(Page);
        other.Translate(Page);

        builder.Map4K(Page, 0x6000);
        cache.Invalidate(other.Root);
        var stale = space.Translate(Page);
        var otherFresh = other.Translate(Page);
        cache.Invalidate(space.Root | 0x1000 | 0x3 | (1UL << 63)); // a raw KPTI user CR3 of the same root
        var fresh = space.Translate(Page);

        Assert.Multiple(() =>
        {
            Assert.That(stale, Is.EqualTo(0x5000UL));
            Assert.That(otherFresh, Is.EqualTo(0x6000UL));
            Assert.That(fresh, Is.EqualTo(0x6000UL));
        });
    }

    [Test]
    public void Invalidate_of_a_page_drops_only_that_page()
    {
        var builder = new PageTableBuilder().Map4K(Page, 0x5000).Map4K(Page + 0x1000, 0x7000);
        var cache = new TranslationCache();
        var space = builder.AddressSpace(cache);
        space.Translate(Page);
        space.Translate(Page + 0x1000);

        builder.Map4K(Page, 0x6000).Map4K(Page + 0x1000, 0x8000);
        cache.Invalidate(space.Root | 0x5, Page + 0x123);

        Assert.Multiple(() =>
        {
            Assert.That(space.Translate(Page), Is.EqualTo(0x6000UL));
            Assert.That(space.Translate(Page + 0x1000), Is.EqualTo(0x7000UL), "the other page is still cached");
        });
    }

    [Test]
    public void Address_spaces_with_the_same_root_share_entries_and_different_roots_do_not_collide()
    {
        var cache = new TranslationCache(16);
        var builder = new PageTableBuilder().Map4K(Page, 0x5000);
        var first = builder.AddressSpace(cache);
        var twin = builder.AddressSpace(cache);
        first.Translate(Page);
        var shared = twin.Translate(Page);
        var hitsAfterShare = cache.Hits;

        // A second root in the same memory mapping the same page elsewhere.
        var otherRoot = builder.AllocateTable();
        var pdpt = builder.AllocateTable();
        var pd = builder.AllocateTable();
        var pt = builder.AllocateTable();
        builder.WriteEntryAt(otherRoot, (int)((Page >> 39) & 0x1FF), pdpt | 1);
        builder.WriteEntryAt(pdpt, (int)((Page >> 30) & 0x1FF), pd | 1);
        builder.WriteEntryAt(pd, (int)((Page >> 21) & 0x1FF), pt | 1);
        builder.WriteEntryAt(pt, (int)((Page >> 12) & 0x1FF), 0xB000 | 1);
        var other = new X86AddressSpace(builder.Memory, otherRoot, cache: cache);

        Assert.Multiple(() =>
        {
            Assert.That(shared, Is.EqualTo(0x5000UL));
            Assert.That(hitsAfterShare, Is.EqualTo(1));
            Assert.That(other.Translate(Page), Is.EqualTo(0xB000UL));
            Assert.That(first.Translate(Page), Is.EqualTo(0x5000UL));
            Assert.That(other.Translate(Page), Is.EqualTo(0xB000UL));
        });
    }

    [Test]
    public void Four_and_five_level_spaces_with_the_same_root_do_not_share_entries()
    {
        var cache = new TranslationCache();
        var builder = new PageTableBuilder().Map4K(Page, 0x5000);
        var four = builder.AddressSpace(cache);
        var five = new X86AddressSpace(builder.Memory, builder.Root, PagingMode.FiveLevel, cache);

        four.Translate(Page);

        Assert.Throws<GuestMemoryException>(() => five.Translate(Page));
    }

    [Test]
    public void TryTranslate_uses_and_fills_the_cache()
    {
        var cache = new TranslationCache();
        var space = new PageTableBuilder().Map4K(Page, 0x5000).AddressSpace(cache);

        var first = space.TryTranslate(Page + 1, out var pa1);
        var second = space.TryTranslate(Page + 2, out var pa2);
        var unmapped = space.TryTranslate(Page + 0x1000, out _);

        Assert.Multiple(() =>
        {
            Assert.That(first && second, Is.True);
            Assert.That(pa1, Is.EqualTo(0x5001UL));
            Assert.That(pa2, Is.EqualTo(0x5002UL));
            Assert.That(unmapped, Is.False);
            Assert.That(cache.Hits, Is.EqualTo(1));
            Assert.That(cache.Misses, Is.EqualTo(2));
        });
    }

    [Test]
    public void Capacity_is_rounded_up_to_a_power_of_two()
    {
        Assert.Multiple(() =>
        {
            Assert.That(new TranslationCache(1000).Capacity, Is.EqualTo(1024));
            Assert.That(new TranslationCache(1).Capacity, Is.EqualTo(16));
            Assert.Throws<ArgumentOutOfRangeException>(() => _ = new TranslationCache(0));
        });
    }

    [Test]
    public void An_entry_that_is_being_written_is_a_miss_and_is_not_overwritten()
    {
        var cache = new TranslationCache(16);
        var builder = new PageTableBuilder().Map4K(Page, 0x5000);
        var space = builder.AddressSpace(cache);
        space.Translate(Page);

        // Simulate a writer holding the entry's sequence lock (odd sequence) with a stale frame.
        var entries = (Array)typeof(TranslationCache).GetField("_entries", BindingFlags.NonPublic | BindingFlags.Instance)!.GetValue(cache)!;
        var entryType = entries.GetType().GetElementType()!;
        var index = Enumerable.Range(0, entries.Length).Single(i => (ulong)entryType.GetField("Tag")!.GetValue(entries.GetValue(i))! != 0);
        var entry = entries.GetValue(index)!;
        var sequence = (long)entryType.GetField("Sequence")!.GetValue(entry)!;
        entryType.GetField("Sequence")!.SetValue(entry, sequence + 1);
        entryType.GetField("Frame")!.SetValue(entry, 0xDEAD_0000UL);
        entries.SetValue(entry, index);
        var missesBefore = cache.Misses;

        var translated = space.Translate(Page + 8);

        Assert.Multiple(() =>
        {
            Assert.That(translated, Is.EqualTo(0x5008UL), "the half-written entry was not used");
            Assert.That(cache.Misses, Is.EqualTo(missesBefore + 1));
            Assert.That((long)entryType.GetField("Sequence")!.GetValue(entries.GetValue(index))!, Is.EqualTo(sequence + 1), "the insert backed off");
        });
    }

    [Test]
    public void Concurrent_translations_from_several_threads_are_correct()
    {
        // A tiny cache forces constant evictions and entry rewrites while other threads read,
        // and a fourth thread keeps invalidating: every result must still be the mapped frame.
        const int pages = 32; // pairs of pages share each of the 16 slots: constant rewrites
        var builder = new PageTableBuilder();
        for (var i = 0UL; i < pages; i++)
        {
            builder.Map4K(Page + (i * 0x1000), 0x20_0000 + (((i * 37) % pages) * 0x1000));
        }

        var cache = new TranslationCache(16);
        var space = builder.AddressSpace(cache);
        var errors = 0;
        using var stop = new CancellationTokenSource();
        var workers = Enumerable.Range(0, Math.Max(2, Environment.ProcessorCount)).Select(seed => Task.Run(() =>
        {
            var random = new Random(seed);
            for (var n = 0; n < 300_000; n++)
            {
                var i = (ulong)random.Next(pages);
                var offset = (ulong)random.Next(0x1000);
                var expected = 0x20_0000 + (((i * 37) % pages) * 0x1000) + offset;
                if (space.Translate(Page + (i * 0x1000) + offset) != expected)
                {
                    Interlocked.Increment(ref errors);
                }
            }
        })).ToArray();
        var invalidator = Task.Run(() =>
        {
            var n = 0;
            while (!stop.IsCancellationRequested)
            {
                switch (n++ % 3)
                {
                    case 0: cache.Invalidate(); break;
                    case 1: cache.Invalidate(space.Root); break;
                    default: cache.Invalidate(space.Root, Page + ((ulong)(n % pages) * 0x1000)); break;
                }
            }
        });

        Assert.That(Task.WaitAll(workers, TimeSpan.FromSeconds(60)), Is.True);
        stop.Cancel();
        invalidator.Wait();

        Assert.Multiple(() =>
        {
            Assert.That(errors, Is.Zero);
            Assert.That(cache.Hits + cache.Misses, Is.GreaterThan(0));
        });
    }
}
