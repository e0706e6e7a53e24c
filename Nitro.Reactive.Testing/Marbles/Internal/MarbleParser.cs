namespace Nitro.Reactive.Testing.Marbles.Internal;

internal enum MarbleTokenKind
{
    Next,
    Error,
    Completed,
}

/// <summary>One notification of a diagram: its frame counted from the first character, and where it was written.</summary>
internal readonly record struct MarbleToken(MarbleTokenKind Kind, char Symbol, int Frame, int Position);

/// <summary>A parsed event diagram: its notifications and the frame of <c>^</c>, if any.</summary>
internal sealed record ParsedMarbles(IReadOnlyList<MarbleToken> Tokens, int? SubscriptionFrame, int SubscriptionPosition);

/// <summary>A parsed subscription diagram: frames of <c>^</c> and <c>!</c>.</summary>
internal readonly record struct ParsedSubscription(int SubscribeFrame, int? UnsubscribeFrame);

/// <summary>
/// Reads marble diagrams. Every character except a space is one frame; the notifications of a
/// group <c>(ab)</c> all happen at the frame of its <c>(</c>, and the group still advances time by
/// its full length, parentheses included (RxJS semantics).
/// </summary>
internal static class MarbleParser
{
    public static ParsedMarbles ParseEvents(string diagram)
    {
        ArgumentNullException.ThrowIfNull(diagram);
        var reader = new EventReader(diagram);
        for (var position = 0; position < diagram.Length; position++)
        {
            reader.Read(position);
        }

        return reader.Finish();
    }

    public static ParsedSubscription ParseSubscription(string diagram)
    {
        ArgumentNullException.ThrowIfNull(diagram);
        var frame = 0;
        int? subscribe = null;
        int? unsubscribe = null;
        var subscribePosition = -1;
        for (var position = 0; position < diagram.Length; position++)
        {
            switch (diagram[position])
            {
                case ' ':
                    continue;
                case '-':
                    break;
                case '^':
                    if (subscribe is not null)
                    {
                        throw Bad(diagram, position, "a second '^' (the first is at position " + subscribePosition + "; write one diagram per subscription)");
                    }

                    subscribe = frame;
                    subscribePosition = position;
                    break;
                case '!':
                    if (subscribe is null)
                    {
                        throw Bad(diagram, position, "'!' before the '^' it would end");
                    }

                    if (unsubscribe is not null)
                    {
                        throw Bad(diagram, position, "a second '!'");
                    }

                    unsubscribe = frame;
                    break;
                default:
                    throw Bad(diagram, position, "'" + diagram[position] + "' (a subscription diagram holds only '-', '^', '!' and spaces)");
            }

            frame++;
        }

        if (subscribe is null)
        {
            throw new FormatException($"Subscription diagram \"{diagram}\" has no '^' marking the subscription.");
        }

        return new ParsedSubscription(subscribe.Value, unsubscribe);
    }

    private sealed class EventReader(string diagram)
    {
        private readonly List<MarbleToken> _tokens = [];
        private int _frame;
        private int _groupStart = -1;
        private int _groupFrame;
        private int _groupCount;
        private int? _subscriptionFrame;
        private int _subscriptionPosition = -1;
        private int _terminalPosition = -1;

        public void Read(int position)
        {
            var symbol = diagram[position];
            switch (symbol)
            {
                case ' ':
                    return;
                case '-':
                    if (_groupStart >= 0)
                    {
                        throw Bad(diagram, position, "'-' inside the group opened at position " + _groupStart + " (a group holds simultaneous notifications only)");
                    }

                    break;
                case '(':
                    OpenGroup(position);
                    break;
                case ')':
                    CloseGroup(position);
                    break;
                case '^':
                    MarkSubscription(position);
                    break;
                case '!':
                    throw Bad(diagram, position, "'!' (unsubscription) belongs in subscription diagrams only");
                default:
                    AddNotification(position, symbol);
                    break;
            }

            _frame++;
        }

        public ParsedMarbles Finish()
        {
            if (_groupStart >= 0)
            {
                throw Bad(diagram, _groupStart, "'(' that is never closed");
            }

            return new ParsedMarbles(_tokens, _subscriptionFrame, _subscriptionPosition);
        }

        private void OpenGroup(int position)
        {
            if (_groupStart >= 0)
            {
                throw Bad(diagram, position, "'(' inside the group opened at position " + _groupStart + " (groups do not nest)");
            }

            _groupStart = position;
            _groupFrame = _frame;
            _groupCount = 0;
        }

        private void CloseGroup(int position)
        {
            if (_groupStart < 0)
            {
                throw Bad(diagram, position, "')' that closes no group");
            }

            if (_groupCount == 0)
            {
                throw Bad(diagram, position, "an empty group (opened at position " + _groupStart + ")");
            }

            _groupStart = -1;
        }

        private void MarkSubscription(int position)
        {
            if (_groupStart >= 0)
            {
                throw Bad(diagram, position, "'^' inside a group");
            }

            if (_subscriptionFrame is not null)
            {
                throw Bad(diagram, position, "a second '^' (the first is at position " + _subscriptionPosition + ")");
            }

            _subscriptionFrame = _frame;
            _subscriptionPosition = position;
        }

        private void AddNotification(int position, char symbol)
        {
            if (_terminalPosition >= 0)
            {
                throw Bad(diagram, position, "'" + symbol + "' after the terminal '" + diagram[_terminalPosition] + "' at position " + _terminalPosition);
            }

            if (char.IsWhiteSpace(symbol))
            {
                throw Bad(diagram, position, "a whitespace character other than a space");
            }

            var kind = symbol switch
            {
                '|' => MarbleTokenKind.Completed,
                '#' => MarbleTokenKind.Error,
                _ => MarbleTokenKind.Next,
            };
            if (kind != MarbleTokenKind.Next)
            {
                _terminalPosition = position;
            }

            _tokens.Add(new MarbleToken(kind, symbol, _groupStart >= 0 ? _groupFrame : _frame, position));
            _groupCount++;
        }
    }

    private static FormatException Bad(string diagram, int position, string what) =>
        new($"Marble diagram \"{diagram}\" has {what} at position {position}.");
}
