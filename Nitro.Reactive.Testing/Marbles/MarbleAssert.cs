using System.Globalization;
using System.Reactive;
using System.Text;
using Microsoft.Reactive.Testing;

namespace Nitro.Reactive.Testing.Marbles;

/// <summary>
/// Compares recorded notifications and subscriptions with marble diagrams and throws
/// <see cref="MarbleAssertionException"/> on a difference.
/// </summary>
/// <remarks>
/// A notification matches a symbol when it falls within the span of the symbol's frame (see
/// <see cref="MarbleDiagram"/>: a frame is <c>frameTicks</c> long, so one tick late — Microsoft's
/// <see cref="TestScheduler"/> for work scheduled "now" — is still the same frame), the kinds are equal, their values are equal by
/// <see cref="EqualityComparer{T}.Default"/>, and — for errors — the exceptions are the same
/// instance or have the same type and message (so a <c>#</c> matches any error of the type and
/// message of the <c>error</c> given, by default <see cref="MarbleErrorException"/>("error")).
/// </remarks>
public static class MarbleAssert
{
    /// <summary>Asserts that <paramref name="actual"/> is exactly what <paramref name="expected"/> describes.</summary>
    /// <typeparam name="T">The element type.</typeparam>
    /// <param name="expected">The expected diagram (see <see cref="MarbleDiagram"/> for the syntax).</param>
    /// <param name="actual">The recorded notifications, for example <see cref="ITestableObserver{T}.Messages"/>.</param>
    /// <param name="values">The value of each symbol (not needed for <see cref="char"/>); also used to write the actual diagram.</param>
    /// <param name="error">The exception a <c>#</c> stands for.</param>
    /// <param name="origin">The virtual time of the diagram's origin (its <c>^</c> or first frame), by default the subscription time of <see cref="TestScheduler.Start{T}(Func{IObservable{T}})"/>.</param>
    /// <param name="frameTicks">Ticks per frame.</param>
    /// <exception cref="MarbleAssertionException">The notifications differ; the message shows both diagrams and a diff.</exception>
    /// <exception cref="FormatException"><paramref name="expected"/> is malformed.</exception>
    public static void AreEqual<T>(
        string expected,
        IEnumerable<Recorded<Notification<T>>> actual,
        IReadOnlyDictionary<char, T>? values = null,
        Exception? error = null,
        long origin = ReactiveTest.Subscribed,
        long frameTicks = MarbleDiagram.DefaultFrameTicks)
    {
        ArgumentNullException.ThrowIfNull(actual);
        var expectedMessages = MarbleDiagram.Parse(expected, values, error, origin, frameTicks);
        var actualMessages = actual.ToList();
        var diff = Diff(expectedMessages, actualMessages, frameTicks);
        if (diff.TrueForAll(static line => line.Kind == ' '))
        {
            return;
        }

        var actualDiagram = MarbleDiagram.Serialize(actualMessages, values, origin, frameTicks, out var exact);
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"Marble diagrams differ (1 frame = {frameTicks} ticks, origin at t={origin}; \"frame 3+1\" is one tick into frame 3).").AppendLine();
        text.Append("Expected: ").AppendLine(expected);
        text.Append("Actual:   ").Append(actualDiagram);
        if (!exact)
        {
            text.Append("   (approximate: not every notification falls on a free frame; see the list)");
        }

        text.AppendLine().AppendLine("Notifications ('-' expected only, '+' actual only):");
        foreach (var line in diff)
        {
            text.Append(line.Kind).Append(' ').AppendLine(Describe(line.Message, values, origin, frameTicks));
        }

        throw new MarbleAssertionException(text.ToString());
    }

    /// <summary>
    /// Asserts that <paramref name="actual"/> holds exactly the subscriptions the diagrams describe, one
    /// diagram per subscription in subscription order (see <see cref="MarbleDiagram.ParseSubscription"/>).
    /// </summary>
    /// <param name="actual">The recorded subscriptions, for example <see cref="ITestableObservable{T}.Subscriptions"/>.</param>
    /// <param name="expected">One diagram per subscription, for example <c>"^---!"</c>.</param>
    /// <param name="origin">The virtual time of each diagram's first frame.</param>
    /// <param name="frameTicks">Ticks per frame.</param>
    /// <exception cref="MarbleAssertionException">The subscriptions differ.</exception>
    /// <exception cref="FormatException">A diagram is malformed.</exception>
    public static void SubscriptionsAreEqual(
        IEnumerable<Subscription> actual,
        IReadOnlyList<string> expected,
        long origin = ReactiveTest.Subscribed,
        long frameTicks = MarbleDiagram.DefaultFrameTicks)
    {
        ArgumentNullException.ThrowIfNull(actual);
        ArgumentNullException.ThrowIfNull(expected);
        var actualList = actual.ToList();
        var expectedList = expected.Select(diagram => MarbleDiagram.ParseSubscription(diagram, origin, frameTicks)).ToList();
        if (actualList.Count == expectedList.Count && actualList.Zip(expectedList).All(pair => Matches(pair.Second, pair.First, frameTicks)))
        {
            return;
        }

        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"Subscriptions differ (1 frame = {frameTicks} ticks, origin at t={origin}).").AppendLine();
        for (var i = 0; i < Math.Max(actualList.Count, expectedList.Count); i++)
        {
            var want = i < expected.Count ? expected[i] : "(none)";
            var got = i < actualList.Count ? Draw(actualList[i], origin, frameTicks) : "(none)";
            var mark = i < expectedList.Count && i < actualList.Count && Matches(expectedList[i], actualList[i], frameTicks) ? ' ' : 'x';
            text.Append(CultureInfo.InvariantCulture, $"{mark} #{i}: expected {want}  actual {got}");
            if (i < actualList.Count)
            {
                text.Append(CultureInfo.InvariantCulture, $"  {actualList[i]}");
            }

            text.AppendLine();
        }

        throw new MarbleAssertionException(text.ToString());
    }

    internal static bool Matches<T>(Recorded<Notification<T>> expected, Recorded<Notification<T>> actual, long frameTicks)
    {
        if (!InFrame(expected.Time, actual.Time, frameTicks) || expected.Value.Kind != actual.Value.Kind)
        {
            return false;
        }

        return expected.Value.Kind switch
        {
            NotificationKind.OnNext => EqualityComparer<T>.Default.Equals(expected.Value.Value, actual.Value.Value),
            NotificationKind.OnError => SameError(expected.Value.Exception!, actual.Value.Exception!),
            _ => true,
        };
    }

    private static bool Matches(Subscription expected, Subscription actual, long frameTicks) =>
        InFrame(expected.Subscribe, actual.Subscribe, frameTicks) &&
        (expected.Unsubscribe == Subscription.Infinite
            ? actual.Unsubscribe == Subscription.Infinite
            : actual.Unsubscribe != Subscription.Infinite && InFrame(expected.Unsubscribe, actual.Unsubscribe, frameTicks));

    /// <summary>Whether <paramref name="actual"/> lies in the frame that starts at <paramref name="frameStart"/>.</summary>
    private static bool InFrame(long frameStart, long actual, long frameTicks) =>
        actual >= frameStart && actual - frameStart < frameTicks;

    private static bool SameError(Exception expected, Exception actual) =>
        ReferenceEquals(expected, actual) ||
        (expected.GetType() == actual.GetType() && string.Equals(expected.Message, actual.Message, StringComparison.Ordinal));

    /// <summary>A longest-common-subsequence diff; ' ' both, '-' expected only, '+' actual only.</summary>
    private static List<(char Kind, Recorded<Notification<T>> Message)> Diff<T>(
        IReadOnlyList<Recorded<Notification<T>>> expected,
        IReadOnlyList<Recorded<Notification<T>>> actual,
        long frameTicks)
    {
        var n = expected.Count;
        var m = actual.Count;
        var common = new int[n + 1, m + 1];
        for (var i = n - 1; i >= 0; i--)
        {
            for (var j = m - 1; j >= 0; j--)
            {
                common[i, j] = Matches(expected[i], actual[j], frameTicks)
                    ? common[i + 1, j + 1] + 1
                    : Math.Max(common[i + 1, j], common[i, j + 1]);
            }
        }

        var lines = new List<(char, Recorded<Notification<T>>)>(n + m);
        int x = 0, y = 0;
        while (x < n || y < m)
        {
            if (x < n && y < m && Matches(expected[x], actual[y], frameTicks))
            {
                lines.Add((' ', actual[y]));
                x++;
                y++;
            }
            else if (y < m && (x == n || common[x, y + 1] >= common[x + 1, y]))
            {
                // Prefer listing the expected line first when both sides differ at the same time.
                if (x < n && expected[x].Time <= actual[y].Time && common[x + 1, y] == common[x, y + 1])
                {
                    lines.Add(('-', expected[x]));
                    x++;
                }
                else
                {
                    lines.Add(('+', actual[y]));
                    y++;
                }
            }
            else
            {
                lines.Add(('-', expected[x]));
                x++;
            }
        }

        return lines;
    }

    private static string Describe<T>(Recorded<Notification<T>> message, IReadOnlyDictionary<char, T>? values, long origin, long frameTicks)
    {
        var frame = Frame(message.Time, origin, frameTicks);
        var notification = message.Value;
        var what = notification.Kind switch
        {
            NotificationKind.OnCompleted => "OnCompleted",
            NotificationKind.OnError => $"OnError {notification.Exception!.GetType().Name}: {notification.Exception.Message}",
            _ => DescribeValue(notification, values),
        };
        return string.Create(CultureInfo.InvariantCulture, $"t={message.Time,-6} frame {frame,-4} {what}");
    }

    /// <summary>The frame of <paramref name="time"/>, with the ticks into it when it is not at the frame's start: "5", "1+5".</summary>
    private static string Frame(long time, long origin, long frameTicks)
    {
        var frame = MarbleDiagram.FrameOf(time, origin, frameTicks);
        var into = time - origin - (frame * frameTicks);
        return into == 0
            ? frame.ToString(CultureInfo.InvariantCulture)
            : string.Create(CultureInfo.InvariantCulture, $"{frame}+{into}");
    }

    private static string DescribeValue<T>(Notification<T> notification, IReadOnlyDictionary<char, T>? values)
    {
        var value = notification.Value;
        var shown = Convert.ToString(value, CultureInfo.InvariantCulture) ?? "null";
        if (values is null)
        {
            return "OnNext " + shown;
        }

        var symbol = MarbleDiagram.SymbolOf(notification, values);
        return symbol == '?' ? "OnNext " + shown + " (no symbol)" : "OnNext " + symbol + " = " + shown;
    }

    private static string Draw(Subscription subscription, long origin, long frameTicks)
    {
        var start = MarbleDiagram.FrameOf(subscription.Subscribe, origin, frameTicks);
        if (start < 0)
        {
            return string.Create(CultureInfo.InvariantCulture, $"(before the origin t={origin})");
        }

        var text = new StringBuilder();
        text.Append('-', (int)Math.Min(start, 10_000)).Append('^');
        if (subscription.Unsubscribe != Subscription.Infinite)
        {
            var end = MarbleDiagram.FrameOf(subscription.Unsubscribe, origin, frameTicks);
            text.Append('-', (int)Math.Max(0, Math.Min(end - start - 1, 10_000))).Append('!');
        }

        return text.ToString();
    }
}
