using System.Reactive;
using Nitro.Reactive.Testing.Marbles;
using static Microsoft.Reactive.Testing.ReactiveTest;

namespace Nitro.Reactive.Testing.Tests.Marbles;

public sealed class MarbleDiagramTests
{
    private static readonly Dictionary<char, int> s_numbers = new() { ['a'] = 1, ['b'] = 2, ['c'] = 3, ['d'] = 4 };

    [Test]
    public void Parse_places_each_symbol_one_frame_apart_from_the_origin()
    {
        var messages = MarbleDiagram.Parse("-a-b|", s_numbers, origin: 0, frameTicks: 10);

        Assert.That(messages, Is.EqualTo(new[] { OnNext(10, 1), OnNext(30, 2), OnCompleted<int>(40) }));
    }

    [Test]
    public void Parse_starts_at_the_subscription_time_200_by_default()
    {
        Assert.That(MarbleDiagram.Parse<char>("a"), Is.EqualTo(new[] { OnNext(200, 'a') }));
    }

    [Test]
    public void Parse_uses_each_char_as_its_own_value_without_a_map()
    {
        var messages = MarbleDiagram.Parse<char>("x7", origin: 0);

        Assert.That(messages, Is.EqualTo(new[] { OnNext(0, 'x'), OnNext(10, '7') }));
    }

    [Test]
    public void Group_emits_at_the_frame_of_its_paren_and_advances_by_its_length()
    {
        var messages = MarbleDiagram.Parse("-(ab)-c", s_numbers, origin: 0);

        Assert.That(messages, Is.EqualTo(new[] { OnNext(10, 1), OnNext(10, 2), OnNext(60, 3) }));
    }

    [Test]
    public void Group_may_end_with_a_terminal()
    {
        var messages = MarbleDiagram.Parse("(a|)", s_numbers, origin: 0);

        Assert.That(messages, Is.EqualTo(new[] { OnNext(0, 1), OnCompleted<int>(0) }));
    }

    [Test]
    public void Hash_is_an_error_with_the_given_exception()
    {
        var boom = new InvalidOperationException("boom");

        var messages = MarbleDiagram.Parse<int>("--#", error: boom, origin: 0);

        Assert.That(messages, Is.EqualTo(new[] { OnError<int>(20, boom) }));
    }

    [Test]
    public void Hash_defaults_to_a_MarbleErrorException_saying_error()
    {
        var message = MarbleDiagram.Parse<int>("#", origin: 0).Single();

        Assert.That(message.Value.Exception, Is.TypeOf<MarbleErrorException>().With.Message.EqualTo("error"));
    }

    [Test]
    public void Caret_is_the_origin_and_earlier_frames_are_earlier_times()
    {
        var messages = MarbleDiagram.Parse("a-^-b", s_numbers, origin: 200);

        Assert.That(messages, Is.EqualTo(new[] { OnNext(180, 1), OnNext(220, 2) }));
    }

    [Test]
    public void Spaces_are_ignored()
    {
        var spaced = MarbleDiagram.Parse("  - a -   b |", s_numbers, origin: 0);

        Assert.That(spaced, Is.EqualTo(MarbleDiagram.Parse("-a-b|", s_numbers, origin: 0)));
    }

    [Test]
    public void Frame_length_scales_times()
    {
        var messages = MarbleDiagram.Parse("--a", s_numbers, origin: 0, frameTicks: 100);

        Assert.That(messages, Is.EqualTo(new[] { OnNext(200, 1) }));
    }

    [Test]
    public void Dashes_only_make_no_notifications()
    {
        Assert.That(MarbleDiagram.Parse<int>("-----"), Is.Empty);
    }

    [TestCase("-(a-b)", 3, "'-' inside the group")]
    [TestCase("-(ab", 1, "never closed")]
    [TestCase("-a)", 2, "closes no group")]
    [TestCase("((a))", 1, "do not nest")]
    [TestCase("()", 1, "empty group")]
    [TestCase("^-^", 2, "second '^'")]
    [TestCase("(^a)", 1, "'^' inside a group")]
    [TestCase("a|b", 2, "after the terminal")]
    [TestCase("#-|", 2, "after the terminal")]
    [TestCase("a!", 1, "subscription diagrams only")]
    [TestCase("a\tb", 1, "whitespace")]
    public void Malformed_diagrams_are_refused_naming_the_position(string diagram, int position, string problem)
    {
        var error = Assert.Throws<FormatException>(() => MarbleDiagram.Parse<char>(diagram));

        Assert.That(error!.Message, Does.Contain(problem).And.Contain($"position {position}").And.Contain(diagram));
    }

    [Test]
    public void Symbol_missing_from_the_map_is_refused_naming_it()
    {
        var error = Assert.Throws<ArgumentException>(() => MarbleDiagram.Parse("-a-z", s_numbers));

        Assert.That(error!.Message, Does.Contain("'z'").And.Contain("position 3"));
    }

    [Test]
    public void Values_without_a_map_are_refused_for_non_char_types()
    {
        var error = Assert.Throws<ArgumentException>(() => MarbleDiagram.Parse<int>("-a"));

        Assert.That(error!.Message, Does.Contain("no values map"));
    }

    [Test]
    public void ParseSubscription_reads_subscribe_and_unsubscribe_frames()
    {
        using (Assert.EnterMultipleScope())
        {
            Assert.That(MarbleDiagram.ParseSubscription("^---!"), Is.EqualTo(Subscribe(200, 240)));
            Assert.That(MarbleDiagram.ParseSubscription("  --^-", origin: 0), Is.EqualTo(Subscribe(20)));
        }
    }

    [TestCase("---", "no '^'")]
    [TestCase("!^", "before the '^'")]
    [TestCase("^-a", "'a'")]
    [TestCase("^!!", "second '!'")]
    public void ParseSubscription_refuses_malformed_diagrams(string diagram, string problem)
    {
        var error = Assert.Throws<FormatException>(() => MarbleDiagram.ParseSubscription(diagram));

        Assert.That(error!.Message, Does.Contain(problem));
    }

    [Test]
    public void Serialize_writes_frames_groups_and_terminals()
    {
        var messages = new[] { OnNext(210, 1), OnNext(230, 2), OnNext(230, 3), OnCompleted<int>(270) };

        Assert.That(MarbleDiagram.Serialize(messages, s_numbers), Is.EqualTo("-a-(bc)|"));
    }

    [Test]
    public void Serialize_round_trips_a_parsed_diagram()
    {
        const string diagram = "--a-(bc)--d-#";

        var messages = MarbleDiagram.Parse(diagram, s_numbers);

        Assert.That(MarbleDiagram.Serialize(messages, s_numbers), Is.EqualTo(diagram));
    }

    [Test]
    public void Serialize_writes_unknown_values_as_question_marks()
    {
        Assert.That(MarbleDiagram.Serialize(new[] { OnNext(200, 99) }, s_numbers), Is.EqualTo("?"));
    }

    [Test]
    public void Serialize_writes_chars_as_themselves()
    {
        Assert.That(MarbleDiagram.Serialize(new[] { OnNext(210, 'q'), OnError<char>(220, new InvalidOperationException()) }), Is.EqualTo("-q#"));
    }
}
