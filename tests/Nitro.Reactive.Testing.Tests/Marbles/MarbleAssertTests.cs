using System.Reactive.Concurrency;
using System.Reactive.Linq;
using Microsoft.Reactive.Testing;
using Nitro.Reactive.Testing.Marbles;
using static Microsoft.Reactive.Testing.ReactiveTest;

namespace Nitro.Reactive.Testing.Tests.Marbles;

public sealed class MarbleAssertTests
{
    private static readonly Dictionary<char, int> s_numbers = new() { ['a'] = 1, ['b'] = 2, ['c'] = 3 };

    [Test]
    public void ExpectMarbles_passes_when_the_notifications_match()
    {
        var scheduler = new TestScheduler();
        var source = scheduler.Hot("--a--b--|");

        var observer = scheduler.Start(() => source);

        Assert.DoesNotThrow(() => scheduler.ExpectMarbles(observer, "--a--b--|"));
    }

    [Test]
    public void ExpectMarbles_fails_showing_both_diagrams_and_the_differing_frame()
    {
        var scheduler = new TestScheduler();
        var observer = scheduler.Start(() => scheduler.Hot("--a--c--|", s_numbers));

        var error = Assert.Throws<MarbleAssertionException>(() => scheduler.ExpectMarbles(observer, "--a--b--|", s_numbers));

        Assert.That(error!.Message, Does.Contain("Expected: --a--b--|")
            .And.Contain("Actual:   --a--c--|")
            .And.Contain("- t=250    frame 5    OnNext b = 2")
            .And.Contain("+ t=250    frame 5    OnNext c = 3")
            .And.Contain("  t=220    frame 2    OnNext a = 1"));
    }

    [Test]
    public void A_missing_notification_is_listed_as_expected_only()
    {
        var scheduler = new TestScheduler();
        var observer = scheduler.Start(() => scheduler.Hot("--a-----|"));

        var error = Assert.Throws<MarbleAssertionException>(() => scheduler.ExpectMarbles(observer, "--a--b--|"));

        Assert.That(error!.Message, Does.Contain("- t=250    frame 5    OnNext b")
            .And.Contain("  t=280    frame 8    OnCompleted")
            .And.Not.Contain("+ t="));
    }

    [Test]
    public void A_late_notification_shows_both_times()
    {
        var scheduler = new TestScheduler();
        var observer = scheduler.Start(() => scheduler.Hot("---a|"));

        var error = Assert.Throws<MarbleAssertionException>(() => scheduler.ExpectMarbles(observer, "--a-|"));

        Assert.That(error!.Message, Does.Contain("- t=220    frame 2    OnNext a")
            .And.Contain("+ t=230    frame 3    OnNext a")
            .And.Contain("Actual:   ---a|"));
    }

    [Test]
    public void Off_frame_notifications_are_reported_with_their_ticks_into_the_frame()
    {
        var scheduler = new TestScheduler();
        var observer = scheduler.Start(() => Observable.Timer(TimeSpan.FromTicks(15), scheduler).Select(_ => 'a'));

        var error = Assert.Throws<MarbleAssertionException>(() => scheduler.ExpectMarbles(observer, "-a|"));

        Assert.That(error!.Message, Does.Contain("+ t=215    frame 1+5  OnCompleted")
            .And.Contain("- t=220    frame 2    OnCompleted")
            .And.Contain("Actual:   -(a|)"));
    }

    [Test]
    public void A_notification_anywhere_in_its_frame_matches_the_frame()
    {
        var scheduler = new TestScheduler();

        Assert.DoesNotThrow(() => scheduler.ExpectMarbles(Observable.Timer(TimeSpan.FromTicks(19), scheduler).Select(_ => 'a'), "-(a|)"));
    }

    [Test]
    public void A_notification_one_tick_past_its_frame_fails()
    {
        var scheduler = new TestScheduler();

        Assert.Throws<MarbleAssertionException>(() => scheduler.ExpectMarbles(Observable.Timer(TimeSpan.FromTicks(20), scheduler).Select(_ => 'a'), "-(a|)"));
    }

    [Test]
    public void A_group_that_overlaps_a_later_frame_is_drawn_approximately()
    {
        var messages = new[] { OnNext(200, 'a'), OnNext(200, 'b'), OnNext(210, 'c') };

        var error = Assert.Throws<MarbleAssertionException>(() => MarbleAssert.AreEqual("(ab)c", messages));

        Assert.That(error!.Message, Does.Contain("Actual:   (ab)c   (approximate").And.Contain("+ t=210    frame 1    OnNext c"));
    }

    [Test]
    public void Errors_match_by_type_and_message()
    {
        var scheduler = new TestScheduler();
        var observer = scheduler.Start(() => scheduler.Hot<int>("--#", error: new TimeoutException("late")));

        using (Assert.EnterMultipleScope())
        {
            Assert.DoesNotThrow(() => scheduler.ExpectMarbles(observer, "--#", error: new TimeoutException("late")));
            Assert.Throws<MarbleAssertionException>(() => scheduler.ExpectMarbles(observer, "--#", error: new TimeoutException("other")));
            Assert.Throws<MarbleAssertionException>(() => scheduler.ExpectMarbles(observer, "--#"));
        }
    }

    [Test]
    public void Default_errors_match_each_other()
    {
        var scheduler = new TestScheduler();

        Assert.DoesNotThrow(() => scheduler.ExpectMarbles(scheduler.Cold<int>("-#"), "-#"));
    }

    [Test]
    public void Expected_diagram_may_carry_a_caret_to_align_with_a_hot_input()
    {
        var scheduler = new TestScheduler();
        var source = scheduler.Hot("a-^-b-|");

        Assert.DoesNotThrow(() => scheduler.ExpectMarbles(source, "  ^-b-|"));
    }

    [Test]
    public void A_hot_value_on_the_first_frame_comes_just_before_Start_subscribes_at_200()
    {
        var scheduler = new TestScheduler();
        var source = scheduler.Hot("ab|");

        Assert.DoesNotThrow(() => scheduler.ExpectMarbles(source, "-b|"));
    }

    [Test]
    public void ExpectMarbles_on_an_observable_starts_it_and_returns_the_observer()
    {
        var scheduler = new TestScheduler();

        var observer = scheduler.ExpectMarbles(scheduler.Cold("-a|"), "-a|");

        Assert.That(observer.Messages, Is.EqualTo(new[] { OnNext(210, 'a'), OnCompleted<char>(220) }));
    }

    [Test]
    public void Custom_frame_length_is_used_by_building_and_asserting()
    {
        var scheduler = new TestScheduler().WithFrameTicks(100);

        var observer = scheduler.ExpectMarbles(scheduler.Cold("-a|"), "-a|");

        Assert.That(observer.Messages[0].Time, Is.EqualTo(300));
    }

    [Test]
    public void ExpectSubscriptions_passes_on_match_and_fails_on_difference()
    {
        var scheduler = new TestScheduler();
        var source = scheduler.Cold("---a---|");
        scheduler.Start(() => source, disposed: 250);

        using (Assert.EnterMultipleScope())
        {
            Assert.DoesNotThrow(() => scheduler.ExpectSubscriptions(source, "^----!"));
            var error = Assert.Throws<MarbleAssertionException>(() => scheduler.ExpectSubscriptions(source, "^---!"));
            Assert.That(error!.Message, Does.Contain("expected ^---!").And.Contain("actual ^----!"));
        }
    }

    [Test]
    public void ExpectSubscriptions_reports_a_missing_subscription()
    {
        var scheduler = new TestScheduler();
        var source = scheduler.Cold("a|");
        scheduler.Start(() => source);

        var error = Assert.Throws<MarbleAssertionException>(() => scheduler.ExpectSubscriptions(source, "^!", "--^!"));

        Assert.That(error!.Message, Does.Contain("#1: expected --^!  actual (none)"));
    }

    [Test]
    public void Never_disposed_subscription_has_no_bang()
    {
        var scheduler = new TestScheduler();
        var source = scheduler.Hot("-a-");
        scheduler.ScheduleAbsolute(220, () => source.Subscribe(_ => { }));
        scheduler.Start();

        Assert.DoesNotThrow(() => scheduler.ExpectSubscriptions(source, "--^"));
    }

    [Test]
    public void MarbleAssert_is_usable_without_a_scheduler()
    {
        var messages = new[] { OnNext(10, 'x'), OnCompleted<char>(20) };

        using (Assert.EnterMultipleScope())
        {
            Assert.DoesNotThrow(() => MarbleAssert.AreEqual("-x|", messages, origin: 0));
            Assert.Throws<MarbleAssertionException>(() => MarbleAssert.AreEqual("-x|", messages));
        }
    }

    [Test]
    public void Cold_refuses_a_caret()
    {
        var scheduler = new TestScheduler();

        var error = Assert.Throws<FormatException>(() => _ = scheduler.Cold("-^-a"));

        Assert.That(error!.Message, Does.Contain("position 1").And.Contain("Hot"));
    }

    [Test]
    public void Frame_length_must_be_positive()
    {
        var scheduler = new TestScheduler();

        Assert.Throws<ArgumentOutOfRangeException>(() => scheduler.WithFrameTicks(0));
    }
}
