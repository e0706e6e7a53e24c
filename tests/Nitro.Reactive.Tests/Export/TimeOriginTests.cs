using Nitro.Reactive.Events;
using Nitro.Reactive.Export;

namespace Nitro.Reactive.Tests.Export;

public sealed class TimeOriginTests
{
    private static readonly DateTimeOffset s_wall = new(2026, 11, 22, 1, 0, 0, TimeSpan.Zero);

    [Test]
    public void ToWallClock_adds_the_monotonic_difference()
    {
        var origin = new TimeOrigin(s_wall, 1_000);

        Assert.That(origin.ToWallClock(1_000 + 2_500_000_300), Is.EqualTo(s_wall.AddTicks(25_000_003)));
    }

    [Test]
    public void ToWallClock_floors_times_before_the_origin()
    {
        var origin = new TimeOrigin(s_wall, 1_000);

        Assert.That(origin.ToWallClock(1_000 - 150), Is.EqualTo(s_wall.AddTicks(-2)));
    }

    [Test]
    public void ToWallClock_answers_in_UTC_for_an_origin_with_an_offset()
    {
        var origin = new TimeOrigin(new DateTimeOffset(2026, 11, 22, 3, 0, 0, TimeSpan.FromHours(2)), 0);

        var time = origin.ToWallClock(0);

        Assert.Multiple(() =>
        {
            Assert.That(time.Offset, Is.EqualTo(TimeSpan.Zero));
            Assert.That(time.UtcDateTime, Is.EqualTo(s_wall.UtcDateTime));
        });
    }

    [Test]
    public void Now_pairs_the_current_wall_clock_with_the_monotonic_clock()
    {
        var before = DateTimeOffset.UtcNow;
        var monotonicBefore = MonotonicClock.Now;
        var origin = TimeOrigin.Now();
        var monotonicAfter = MonotonicClock.Now;
        var after = DateTimeOffset.UtcNow;

        Assert.Multiple(() =>
        {
            Assert.That(origin.WallClock, Is.InRange(before, after));
            Assert.That(origin.MonotonicNanoseconds, Is.InRange(monotonicBefore, monotonicAfter));
        });
    }
}
