using System.Reactive.Linq;
using Microsoft.Reactive.Testing;
using Nitro.Reactive.Testing.Marbles;
using static Microsoft.Reactive.Testing.ReactiveTest;

namespace Nitro.Reactive.Testing.Tests.Marbles;

/// <summary>Rx's own operators, as a check that the marble helpers model time the way users expect.</summary>
public sealed class RxOperatorMarbleTests
{
    private static readonly Dictionary<char, int> s_numbers = new() { ['a'] = 1, ['b'] = 2, ['c'] = 3, ['d'] = 4 };

    [Test]
    public void Where_keeps_matching_values_at_their_frames()
    {
        var scheduler = new TestScheduler();
        var source = scheduler.Hot("-a-b-c-d-|", s_numbers);

        scheduler.ExpectMarbles(source.Where(n => n % 2 == 0), "---b---d-|", s_numbers);
        scheduler.ExpectSubscriptions(source, "^--------!");
    }

    [Test]
    public void Delay_shifts_every_value_by_the_delay()
    {
        var scheduler = new TestScheduler();
        var source = scheduler.Cold("a-b|");

        scheduler.ExpectMarbles(source.Delay(TimeSpan.FromTicks(20), scheduler), "--a-b|");
    }

    [Test]
    public void Throttle_emits_the_last_value_of_a_burst_after_the_quiet_period()
    {
        var scheduler = new TestScheduler();
        var source = scheduler.Hot("-ab----c---|");

        scheduler.ExpectMarbles(source.Throttle(TimeSpan.FromTicks(30), scheduler), "-----b----c|");
    }

    [Test]
    public void Buffer_by_time_groups_values_per_window()
    {
        var scheduler = new TestScheduler();
        var source = scheduler.Hot("-a-b-c-|", s_numbers);
        var buffers = new Dictionary<char, string> { ['x'] = "1,2", ['y'] = "3" };

        scheduler.ExpectMarbles(
            source.Buffer(TimeSpan.FromTicks(40), scheduler).Select(list => string.Join(',', list)),
            "----x--(y|)",
            buffers);
    }

    [Test]
    public void Never_produces_nothing_and_is_disposed_at_1000()
    {
        var scheduler = new TestScheduler();
        var source = scheduler.Hot<int>("-");

        scheduler.ExpectMarbles(source, "-");
        scheduler.ExpectSubscriptions(source, "^" + new string('-', 79) + "!");
    }

    [Test]
    public void Empty_completes_at_the_subscription()
    {
        var scheduler = new TestScheduler();

        scheduler.ExpectMarbles(Observable.Empty<int>(scheduler), "|");
    }

    [Test]
    public void Return_emits_and_completes_at_the_subscription()
    {
        var scheduler = new TestScheduler();

        scheduler.ExpectMarbles(Observable.Return('r', scheduler), "(r|)");
    }

    [Test]
    public void Throw_fails_at_the_subscription()
    {
        var scheduler = new TestScheduler();
        var boom = new InvalidOperationException("boom");

        scheduler.ExpectMarbles(Observable.Throw<int>(boom, scheduler), "#", error: boom);
    }

    [Test]
    public void Catch_switches_to_the_fallback_at_the_error_frame()
    {
        var scheduler = new TestScheduler();
        var source = scheduler.Hot("-a-#");
        var fallback = scheduler.Cold("-b|");

        scheduler.ExpectMarbles(source.Catch(fallback), "-a--b|");
        scheduler.ExpectSubscriptions(fallback, "---^-!");
    }

    [Test]
    public void Take_disposes_its_source_after_the_last_value()
    {
        var scheduler = new TestScheduler();
        var source = scheduler.Hot("-a-b-c-|");

        scheduler.ExpectMarbles(source.Take(2), "-a-(b|)");
        scheduler.ExpectSubscriptions(source, "^--!");
    }

    [Test]
    public void Concat_subscribes_to_the_second_source_when_the_first_completes()
    {
        var scheduler = new TestScheduler();
        var first = scheduler.Cold("-a|");
        var second = scheduler.Cold("-b|");

        var observer = scheduler.Start(() => first.Concat(second));

        scheduler.ExpectMarbles(observer, "-a-b|");
        Assert.That(second.Subscriptions, Is.EqualTo(new[] { Subscribe(220, 240) }));
    }
}
