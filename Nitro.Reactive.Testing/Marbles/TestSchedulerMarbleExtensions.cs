using System.Runtime.CompilerServices;
using Microsoft.Reactive.Testing;
using Nitro.Reactive.Testing.Marbles.Internal;

namespace Nitro.Reactive.Testing.Marbles;

/// <summary>
/// Marble diagrams on Microsoft's <see cref="TestScheduler"/>: build hot and cold observables from
/// diagrams and assert results against them. Frames are <see cref="GetFrameTicks"/> long (10 ticks
/// unless set with <see cref="WithFrameTicks"/>); the origin of hot and expected diagrams (their
/// <c>^</c>, or first frame) is at the subscription time used by
/// <see cref="TestScheduler.Start{T}(Func{IObservable{T}})"/>, <see cref="ReactiveTest.Subscribed"/> (200),
/// unless told otherwise.
/// </summary>
public static class TestSchedulerMarbleExtensions
{
    private static readonly ConditionalWeakTable<TestScheduler, StrongBox<long>> s_frameTicks = new();

    /// <summary>
    /// Sets how many ticks one frame of a marble diagram stands for on <paramref name="scheduler"/>, for
    /// every marble helper called on it afterwards; for example <c>TimeSpan.FromSeconds(1).Ticks</c>
    /// to draw a rule's five-second window as five frames.
    /// </summary>
    /// <param name="scheduler">The scheduler.</param>
    /// <param name="frameTicks">Ticks per frame.</param>
    /// <returns>The same scheduler, for <c>new TestScheduler().WithFrameTicks(…)</c>.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="frameTicks"/> is not positive.</exception>
    public static TestScheduler WithFrameTicks(this TestScheduler scheduler, long frameTicks)
    {
        ArgumentNullException.ThrowIfNull(scheduler);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(frameTicks);
        s_frameTicks.AddOrUpdate(scheduler, new StrongBox<long>(frameTicks));
        return scheduler;
    }

    /// <summary>Gets how many ticks one marble frame stands for on <paramref name="scheduler"/>.</summary>
    /// <param name="scheduler">The scheduler.</param>
    /// <returns>The value set with <see cref="WithFrameTicks"/>, else <see cref="MarbleDiagram.DefaultFrameTicks"/>.</returns>
    public static long GetFrameTicks(this TestScheduler scheduler)
    {
        ArgumentNullException.ThrowIfNull(scheduler);
        return s_frameTicks.TryGetValue(scheduler, out var frameTicks) ? frameTicks.Value : MarbleDiagram.DefaultFrameTicks;
    }

    /// <summary>Creates a hot observable from a diagram such as <c>"--a-^-b--|"</c>.</summary>
    /// <typeparam name="T">The element type.</typeparam>
    /// <param name="scheduler">The scheduler.</param>
    /// <param name="diagram">The diagram; its <c>^</c> (or first frame) is at <paramref name="origin"/>.</param>
    /// <param name="values">The value of each symbol (may be omitted for <see cref="char"/>).</param>
    /// <param name="error">The exception a <c>#</c> stands for.</param>
    /// <param name="origin">The virtual time of the diagram's origin.</param>
    /// <returns>The observable.</returns>
    /// <exception cref="FormatException">The diagram is malformed.</exception>
    /// <exception cref="ArgumentException">A symbol has no value.</exception>
    public static ITestableObservable<T> Hot<T>(
        this TestScheduler scheduler,
        string diagram,
        IReadOnlyDictionary<char, T>? values = null,
        Exception? error = null,
        long origin = ReactiveTest.Subscribed)
    {
        ArgumentNullException.ThrowIfNull(scheduler);
        return scheduler.CreateHotObservable([.. MarbleDiagram.Parse(diagram, values, error, origin, scheduler.GetFrameTicks())]);
    }

    /// <summary>Creates a hot observable of the diagram's own symbols.</summary>
    /// <param name="scheduler">The scheduler.</param>
    /// <param name="diagram">The diagram; its <c>^</c> (or first frame) is at 200.</param>
    /// <returns>The observable.</returns>
    /// <exception cref="FormatException">The diagram is malformed.</exception>
    public static ITestableObservable<char> Hot(this TestScheduler scheduler, string diagram) => scheduler.Hot<char>(diagram);

    /// <summary>
    /// Creates a cold observable from a diagram such as <c>"-a-b|"</c>; each subscription starts at its first
    /// frame (Microsoft's scheduler delivers what is on frame 0 one tick after the subscription, still frame 0).
    /// </summary>
    /// <typeparam name="T">The element type.</typeparam>
    /// <param name="scheduler">The scheduler.</param>
    /// <param name="diagram">The diagram; it may not contain <c>^</c>.</param>
    /// <param name="values">The value of each symbol (may be omitted for <see cref="char"/>).</param>
    /// <param name="error">The exception a <c>#</c> stands for.</param>
    /// <returns>The observable.</returns>
    /// <exception cref="FormatException">The diagram is malformed or has a <c>^</c>.</exception>
    /// <exception cref="ArgumentException">A symbol has no value.</exception>
    public static ITestableObservable<T> Cold<T>(
        this TestScheduler scheduler,
        string diagram,
        IReadOnlyDictionary<char, T>? values = null,
        Exception? error = null)
    {
        ArgumentNullException.ThrowIfNull(scheduler);
        var parsed = MarbleParser.ParseEvents(diagram);
        if (parsed.SubscriptionFrame is not null)
        {
            throw new FormatException(
                $"Marble diagram \"{diagram}\" has '^' at position {parsed.SubscriptionPosition}, but a cold observable starts at each subscription; use Hot for '^'.");
        }

        return scheduler.CreateColdObservable([.. MarbleDiagram.ToNotifications(diagram, parsed, values, error, 0, scheduler.GetFrameTicks())]);
    }

    /// <summary>Creates a cold observable of the diagram's own symbols.</summary>
    /// <param name="scheduler">The scheduler.</param>
    /// <param name="diagram">The diagram; it may not contain <c>^</c>.</param>
    /// <returns>The observable.</returns>
    /// <exception cref="FormatException">The diagram is malformed or has a <c>^</c>.</exception>
    public static ITestableObservable<char> Cold(this TestScheduler scheduler, string diagram) => scheduler.Cold<char>(diagram);

    /// <summary>Asserts that <paramref name="observer"/> received exactly what <paramref name="expected"/> describes.</summary>
    /// <typeparam name="T">The element type.</typeparam>
    /// <param name="scheduler">The scheduler.</param>
    /// <param name="observer">The recording observer, for example the result of <see cref="TestScheduler.Start{T}(Func{IObservable{T}})"/>.</param>
    /// <param name="expected">The expected diagram; its <c>^</c> (or first frame) is at <paramref name="origin"/>.</param>
    /// <param name="values">The value of each symbol (may be omitted for <see cref="char"/>).</param>
    /// <param name="error">The exception a <c>#</c> stands for.</param>
    /// <param name="origin">The virtual time of the diagram's origin, normally the subscription time.</param>
    /// <exception cref="MarbleAssertionException">The notifications differ.</exception>
    public static void ExpectMarbles<T>(
        this TestScheduler scheduler,
        ITestableObserver<T> observer,
        string expected,
        IReadOnlyDictionary<char, T>? values = null,
        Exception? error = null,
        long origin = ReactiveTest.Subscribed)
    {
        ArgumentNullException.ThrowIfNull(scheduler);
        ArgumentNullException.ThrowIfNull(observer);
        MarbleAssert.AreEqual(expected, observer.Messages, values, error, origin, scheduler.GetFrameTicks());
    }

    /// <summary>
    /// Runs <paramref name="source"/> with <see cref="TestScheduler.Start{T}(Func{IObservable{T}})"/>
    /// (subscribed at 200, disposed at 1000) and asserts that it produced exactly what <paramref name="expected"/> describes.
    /// </summary>
    /// <typeparam name="T">The element type.</typeparam>
    /// <param name="scheduler">The scheduler.</param>
    /// <param name="source">The query under test.</param>
    /// <param name="expected">The expected diagram; its <c>^</c> (or first frame) is at the subscription.</param>
    /// <param name="values">The value of each symbol (may be omitted for <see cref="char"/>).</param>
    /// <param name="error">The exception a <c>#</c> stands for.</param>
    /// <returns>The recording observer, for further checks.</returns>
    /// <exception cref="MarbleAssertionException">The notifications differ.</exception>
    public static ITestableObserver<T> ExpectMarbles<T>(
        this TestScheduler scheduler,
        IObservable<T> source,
        string expected,
        IReadOnlyDictionary<char, T>? values = null,
        Exception? error = null)
    {
        ArgumentNullException.ThrowIfNull(scheduler);
        ArgumentNullException.ThrowIfNull(source);
        var observer = scheduler.Start(() => source);
        MarbleAssert.AreEqual(expected, observer.Messages, values, error, ReactiveTest.Subscribed, scheduler.GetFrameTicks());
        return observer;
    }

    /// <summary>
    /// Asserts the subscriptions of a test observable, one diagram per subscription, such as <c>"^-----!"</c>;
    /// each diagram's first frame is at 200 (the subscription time of <see cref="TestScheduler.Start{T}(Func{IObservable{T}})"/>).
    /// </summary>
    /// <typeparam name="T">The element type.</typeparam>
    /// <param name="scheduler">The scheduler.</param>
    /// <param name="observable">The hot or cold observable.</param>
    /// <param name="expected">The subscription diagrams in subscription order.</param>
    /// <exception cref="MarbleAssertionException">The subscriptions differ.</exception>
    public static void ExpectSubscriptions<T>(this TestScheduler scheduler, ITestableObservable<T> observable, params string[] expected)
    {
        ArgumentNullException.ThrowIfNull(scheduler);
        ArgumentNullException.ThrowIfNull(observable);
        MarbleAssert.SubscriptionsAreEqual(observable.Subscriptions, expected, ReactiveTest.Subscribed, scheduler.GetFrameTicks());
    }
}
