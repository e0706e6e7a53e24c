using System.Reactive;
using Microsoft.Reactive.Testing;
using static Microsoft.Reactive.Testing.ReactiveTest;

namespace Nitro.Reactive.Testing.Tests;

/// <summary>Equality and printing of Microsoft's Recorded and Subscription, as the tests of this repository use them.</summary>
public sealed class MicrosoftRecordedTests
{
    [Test]
    public void Records_are_equal_by_time_and_value()
    {
        using (Assert.EnterMultipleScope())
        {
            Assert.That(OnNext(10, "a") == OnNext(10, "a"), Is.True);
            Assert.That(OnNext(10, "a") != OnNext(11, "a"), Is.True);
            Assert.That(OnNext(10, "a"), Is.Not.EqualTo(OnNext(10, "b")));
            Assert.That(OnCompleted<int>(5), Is.EqualTo(new Recorded<Notification<int>>(5, Notification.CreateOnCompleted<int>())));
            Assert.That(OnCompleted<int>(5), Is.Not.EqualTo(OnNext(5, 0)));
        }
    }

    [Test]
    public void Errors_are_equal_only_for_the_same_exception_instance()
    {
        var one = new InvalidOperationException("x");

        using (Assert.EnterMultipleScope())
        {
            Assert.That(OnError<int>(10, one), Is.EqualTo(new Recorded<Notification<int>>(10, Notification.CreateOnError<int>(one))));
            Assert.That(OnError<int>(10, one), Is.Not.EqualTo(OnError<int>(10, new InvalidOperationException("x"))));
        }
    }

    [Test]
    public void OnNext_predicate_matches_values_that_satisfy_it_as_the_expected_side()
    {
        var expected = OnNext<int>(10, v => v > 5);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(expected.Equals(OnNext(10, 7)), Is.True);
            Assert.That(expected.Equals(OnNext(10, 3)), Is.False);
            Assert.That(expected.Equals(OnNext(11, 7)), Is.False);
            Assert.That(expected.Equals(OnCompleted<int>(10)), Is.False);
            Assert.DoesNotThrow(() => ReactiveAssert.AreElementsEqual(new[] { expected }, new[] { OnNext(10, 9) }));
            Assert.That(() => ReactiveAssert.AreElementsEqual(new[] { expected }, new[] { OnNext(10, 1) }), Throws.Exception);
        }
    }

    [Test]
    public void OnError_predicate_matches_by_condition()
    {
        var expected = OnError<int>(10, e => e is TimeoutException);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(expected.Equals(OnError<int>(10, new TimeoutException())), Is.True);
            Assert.That(expected.Equals(OnError<int>(10, new InvalidOperationException())), Is.False);
            Assert.That(expected.Equals(OnNext(10, 1)), Is.False);
        }
    }

    [Test]
    public void Predicate_notifications_cannot_be_played()
    {
        var scheduler = new TestScheduler();
        var expected = OnNext<int>(10, _ => true);

        Assert.Throws<NotSupportedException>(() => expected.Value.Accept(scheduler.CreateObserver<int>()));
    }

    [Test]
    public void Subscription_defaults_to_infinite_and_prints_its_times()
    {
        using (Assert.EnterMultipleScope())
        {
            Assert.That(Subscribe(200), Is.EqualTo(new Subscription(200, long.MaxValue)));
            Assert.That(Subscribe(200).ToString(), Is.EqualTo("(200, Infinite)"));
            Assert.That(Subscribe(200, 300).ToString(), Is.EqualTo("(200, 300)"));
            Assert.That(Subscribe(200, 300) == new Subscription(200, 300), Is.True);
        }
    }

    [Test]
    public void Recorded_prints_value_and_time()
    {
        Assert.That(new Recorded<Notification<int>>(30, Notification.CreateOnNext(4)).ToString(), Is.EqualTo("OnNext(4)@30"));
    }
}
