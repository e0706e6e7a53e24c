using System.Reactive;
using System.Text;
using Microsoft.Reactive.Testing;
using Nitro.Reactive.Testing.Marbles.Internal;

namespace Nitro.Reactive.Testing.Marbles;

/// <summary>
/// Converts between marble diagrams and recorded notifications.
/// </summary>
/// <remarks>
/// <para>Syntax: every character except a space is one frame of <c>frameTicks</c> virtual ticks.
/// <c>-</c> lets a frame pass; any other symbol (letter, digit, punctuation) is an <c>OnNext</c> of the
/// value mapped to it; <c>|</c> is <c>OnCompleted</c>; <c>#</c> is <c>OnError</c>; <c>^</c> marks the
/// subscription point; spaces are ignored and serve for alignment.</para>
/// <para>Groups: <c>(ab)</c> emits <c>a</c> and <c>b</c> at the frame of the <c>(</c>, and time then
/// advances by the whole group, parentheses included (as in RxJS): in <c>-(ab)-c</c>, <c>a</c> and
/// <c>b</c> are at frame 1 and <c>c</c> at frame 6.</para>
/// <para>Time: the origin — the frame of <c>^</c>, or the first frame when there is no <c>^</c> — is at
/// virtual time <c>origin</c>; frames before a <c>^</c> are earlier.</para>
/// <para>Frames are spans: frame <c>k</c> covers the ticks from <c>origin + k * frameTicks</c> up to, not
/// including, the next frame. Parsing puts each notification at the start of its frame; writing and
/// asserting (<see cref="MarbleAssert"/>) place a notification in the frame whose span holds it. That is
/// what makes diagrams fit Microsoft's <see cref="TestScheduler"/>, which runs work scheduled for "now"
/// one tick later: <c>Observable.Return(x, scheduler)</c> subscribed at 200 emits at 201, in frame 0.</para>
/// </remarks>
public static class MarbleDiagram
{
    /// <summary>The length of a frame unless told otherwise: 10 ticks.</summary>
    public const long DefaultFrameTicks = 10;

    /// <summary>Reads an event diagram into notifications with absolute virtual times.</summary>
    /// <typeparam name="T">The element type.</typeparam>
    /// <param name="diagram">The diagram, for example <c>"-a-b-(cd)-|"</c>.</param>
    /// <param name="values">The value of each symbol; may be <see langword="null"/> when <typeparamref name="T"/> is <see cref="char"/> (each symbol is its own value) or the diagram has no values.</param>
    /// <param name="error">The exception a <c>#</c> stands for; by default a <see cref="MarbleErrorException"/>.</param>
    /// <param name="origin">The virtual time of the origin (the <c>^</c>, or the first frame).</param>
    /// <param name="frameTicks">Ticks per frame.</param>
    /// <returns>The notifications in diagram order.</returns>
    /// <exception cref="FormatException">The diagram is malformed; the message names the position.</exception>
    /// <exception cref="ArgumentException">A symbol has no value in <paramref name="values"/>.</exception>
    public static IReadOnlyList<Recorded<Notification<T>>> Parse<T>(
        string diagram,
        IReadOnlyDictionary<char, T>? values = null,
        Exception? error = null,
        long origin = ReactiveTest.Subscribed,
        long frameTicks = DefaultFrameTicks)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(frameTicks);
        var parsed = MarbleParser.ParseEvents(diagram);
        return ToNotifications(diagram, parsed, values, error, origin - ((parsed.SubscriptionFrame ?? 0) * frameTicks), frameTicks);
    }

    /// <summary>
    /// Reads a subscription diagram such as <c>"--^---!"</c>: <c>^</c> subscribes, <c>!</c> unsubscribes
    /// (absent: never), <c>-</c> lets a frame pass, spaces align. Its first frame is at <paramref name="origin"/>.
    /// </summary>
    /// <param name="diagram">The diagram.</param>
    /// <param name="origin">The virtual time of the first frame.</param>
    /// <param name="frameTicks">Ticks per frame.</param>
    /// <returns>The subscription.</returns>
    /// <exception cref="FormatException">The diagram is malformed; the message names the position.</exception>
    public static Subscription ParseSubscription(string diagram, long origin = ReactiveTest.Subscribed, long frameTicks = DefaultFrameTicks)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(frameTicks);
        var parsed = MarbleParser.ParseSubscription(diagram);
        return new Subscription(
            origin + (parsed.SubscribeFrame * frameTicks),
            parsed.UnsubscribeFrame is { } end ? origin + (end * frameTicks) : Subscription.Infinite);
    }

    /// <summary>
    /// Writes notifications as a diagram whose first frame is at <paramref name="origin"/>, each in the frame
    /// whose span holds its time, several in one frame as a group. A value is written as its symbol from
    /// <paramref name="values"/> (itself for <see cref="char"/>), or <c>?</c> when it has none; a notification
    /// before the origin or inside the span of an earlier group cannot be placed exactly and is written
    /// at the next free frame.
    /// </summary>
    /// <typeparam name="T">The element type.</typeparam>
    /// <param name="messages">The notifications in time order.</param>
    /// <param name="values">The symbol of each value.</param>
    /// <param name="origin">The virtual time of the first frame.</param>
    /// <param name="frameTicks">Ticks per frame.</param>
    /// <returns>The diagram.</returns>
    public static string Serialize<T>(
        IEnumerable<Recorded<Notification<T>>> messages,
        IReadOnlyDictionary<char, T>? values = null,
        long origin = ReactiveTest.Subscribed,
        long frameTicks = DefaultFrameTicks)
    {
        ArgumentNullException.ThrowIfNull(messages);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(frameTicks);
        return Serialize(messages.ToList(), values, origin, frameTicks, out _);
    }

    internal static IReadOnlyList<Recorded<Notification<T>>> ToNotifications<T>(
        string diagram,
        ParsedMarbles parsed,
        IReadOnlyDictionary<char, T>? values,
        Exception? error,
        long frameZero,
        long frameTicks)
    {
        var result = new List<Recorded<Notification<T>>>(parsed.Tokens.Count);
        foreach (var token in parsed.Tokens)
        {
            var time = frameZero + (token.Frame * frameTicks);
            var notification = token.Kind switch
            {
                MarbleTokenKind.Completed => Notification.CreateOnCompleted<T>(),
                MarbleTokenKind.Error => Notification.CreateOnError<T>(error ?? new MarbleErrorException()),
                _ => Notification.CreateOnNext(ValueOf(diagram, token, values)),
            };
            result.Add(new Recorded<Notification<T>>(time, notification));
        }

        return result;
    }

    internal static string Serialize<T>(
        IReadOnlyList<Recorded<Notification<T>>> messages,
        IReadOnlyDictionary<char, T>? values,
        long origin,
        long frameTicks,
        out bool exact)
    {
        exact = true;
        var text = new StringBuilder();
        var cursor = 0L;
        var i = 0;
        while (i < messages.Count)
        {
            var frame = FrameOf(messages[i].Time, origin, frameTicks);
            var end = i + 1;
            while (end < messages.Count && FrameOf(messages[end].Time, origin, frameTicks) == frame)
            {
                end++;
            }

            if (frame < cursor)
            {
                exact = false;
            }
            else
            {
                text.Append('-', (int)Math.Min(frame - cursor, 10_000));
                cursor = frame;
            }

            if (end - i > 1)
            {
                text.Append('(');
            }

            for (var j = i; j < end; j++)
            {
                text.Append(SymbolOf(messages[j].Value, values));
            }

            if (end - i > 1)
            {
                text.Append(')');
                cursor += 2;
            }

            cursor += end - i;
            i = end;
        }

        return text.ToString();
    }

    /// <summary>The frame whose span holds <paramref name="time"/>; negative before the origin.</summary>
    internal static long FrameOf(long time, long origin, long frameTicks) => Math.DivRem(time - origin, frameTicks) switch
    {
        (var quotient, < 0) => quotient - 1,
        (var quotient, _) => quotient,
    };

    internal static char SymbolOf<T>(Notification<T> notification, IReadOnlyDictionary<char, T>? values)
    {
        switch (notification.Kind)
        {
            case NotificationKind.OnCompleted:
                return '|';
            case NotificationKind.OnError:
                return '#';
        }

        var value = notification.Value;
        if (values is null)
        {
            return value is char symbol ? symbol : '?';
        }

        foreach (var pair in values)
        {
            if (EqualityComparer<T>.Default.Equals(pair.Value, value))
            {
                return pair.Key;
            }
        }

        return '?';
    }

    private static T ValueOf<T>(string diagram, MarbleToken token, IReadOnlyDictionary<char, T>? values)
    {
        if (values is null)
        {
            if (typeof(T) == typeof(char))
            {
                return (T)(object)token.Symbol;
            }

            throw new ArgumentException(
                $"Marble diagram \"{diagram}\" has the value '{token.Symbol}' at position {token.Position}, but no values map was given " +
                $"to turn symbols into {typeof(T).Name} values.",
                nameof(values));
        }

        if (!values.TryGetValue(token.Symbol, out var value))
        {
            throw new ArgumentException(
                $"Marble diagram \"{diagram}\" has the value '{token.Symbol}' at position {token.Position}, which the values map does not contain.",
                nameof(values));
        }

        return value;
    }
}
