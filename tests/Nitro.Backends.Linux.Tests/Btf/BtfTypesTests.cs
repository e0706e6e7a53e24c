using System.Buffers.Binary;
using Nitro.Backends.Linux.Btf;
using Nitro.Backends.Linux.Profile;
using Nitro.Backends.Linux.Tests.Profile;

namespace Nitro.Backends.Linux.Tests.Btf;

public sealed class BtfTypesTests
{
    private static readonly BtfTypes s_types = BtfTypes.Parse(SyntheticKernel.BuildBtf());

    [TestCase("task_struct", "mm", 2272UL)]
    [TestCase("task_struct", "pid", 2416UL)]
    [TestCase("task_struct", "tasks", 2192UL)]
    [TestCase("task_struct", "comm", 2976UL)]
    [TestCase("mm_struct", "pgd", 72UL)]
    [TestCase("mm_struct", "exe_file", 944UL)]
    [TestCase("file", "f_path", 16UL)]
    [TestCase("file", "f_path.dentry", 24UL)]
    [TestCase("dentry", "d_name.name", 40UL)]
    [TestCase("qstr", "name", 8UL)]
    [TestCase("qstr", "len", 4UL)]
    [TestCase("qstr", "hash_len", 0UL)]
    public void OffsetOf_follows_paths_and_anonymous_members(string aggregate, string path, ulong expected) =>
        Assert.That(s_types.OffsetOf(aggregate, path), Is.EqualTo(expected));

    [Test]
    public void Bitfield_members_carry_bit_offset_and_width()
    {
        var task = s_types.FindAggregate("task_struct");
        Assert.That(s_types.TryGetMember(task, "in_iowait", out var member), Is.True);

        Assert.That(member.BitOffset, Is.EqualTo((1000UL * 8) + 1));
        Assert.That(member.BitfieldSize, Is.EqualTo(1));
        Assert.That(member.Offset, Is.EqualTo(1000UL));
        Assert.That(s_types.GetMembers(task).Single(m => string.Equals(m.Name, "pid", StringComparison.Ordinal)).BitfieldSize, Is.Zero);
    }

    [Test]
    public void Sizes_follow_typedefs_modifiers_and_arrays()
    {
        var comm = s_types.GetMemberPath("task_struct", "comm");
        Assert.That(s_types.TryGetArray(comm.TypeId, out var element, out var length), Is.True);
        Assert.That(length, Is.EqualTo(16u));
        Assert.That(s_types.GetName(element), Is.EqualTo("char"));
        Assert.That(s_types.SizeOf(comm.TypeId), Is.EqualTo(16UL));
        Assert.That(s_types.SizeOf("task_struct"), Is.EqualTo((ulong)SyntheticKernel.TaskSize));
        Assert.That(s_types.SizeOf("pid_t"), Is.EqualTo(4UL));
        Assert.That(s_types.SizeOf(s_types.GetMemberPath("task_struct", "mm").TypeId), Is.EqualTo(8UL));
    }

    [Test]
    public void SkipModifiers_resolves_const_typedef_to_the_integer()
    {
        var tgid = s_types.GetMemberPath("task_struct", "tgid");

        Assert.That(s_types.GetKind(tgid.TypeId), Is.EqualTo(BtfKind.Const));
        var resolved = s_types.SkipModifiers(tgid.TypeId);
        Assert.That(s_types.GetKind(resolved), Is.EqualTo(BtfKind.Int));
        Assert.That(s_types.GetName(resolved), Is.EqualTo("int"));
    }

    [Test]
    public void A_named_struct_with_members_wins_over_an_empty_one()
    {
        var list = s_types.FindAggregate("list_head");
        Assert.That(s_types.GetMembers(list).Select(m => m.Name), Is.EqualTo(new[] { "next", "prev" }));
    }

    [Test]
    public void Every_kind_is_parsed()
    {
        var b = new BtfBuilder();
        var integer = b.Int("int", 4, encoding: 1);
        var ids = new Dictionary<BtfKind, int>
        {
            [BtfKind.Int] = integer,
            [BtfKind.Pointer] = b.Pointer(integer),
            [BtfKind.Array] = b.Array(integer, integer, 4),
            [BtfKind.Struct] = b.Struct("s", 4, ("a", integer, 0, 0)),
            [BtfKind.Union] = b.Union("u", 4, ("a", integer, 0, 0), ("b", integer, 0, 0)),
            [BtfKind.Enum] = b.Enum("e", ("ONE", 1), ("TWO", 2)),
            [BtfKind.Forward] = b.Forward("f"),
            [BtfKind.Typedef] = b.Typedef("t", integer),
            [BtfKind.Volatile] = b.Volatile(integer),
            [BtfKind.Const] = b.Const(integer),
            [BtfKind.Restrict] = b.Restrict(b.Pointer(integer)),
            [BtfKind.FunctionPrototype] = b.FunctionPrototype(integer, ("x", integer), ("y", integer)),
            [BtfKind.Float] = b.Float("double", 8),
            [BtfKind.TypeTag] = b.TypeTag("user", integer),
            [BtfKind.Enum64] = b.Enum64("e64", ("BIG", 1L << 40)),
        };
        ids[BtfKind.Function] = b.Function("fn", ids[BtfKind.FunctionPrototype]);
        ids[BtfKind.Variable] = b.Variable("v", integer);
        ids[BtfKind.DataSection] = b.DataSection(".data", 4, (ids[BtfKind.Variable], 0, 4));
        ids[BtfKind.DeclarationTag] = b.DeclarationTag("tag", ids[BtfKind.Struct], 0);
        var after = b.Int("after", 8);

        var types = BtfTypes.Parse(b.Build());

        Assert.That(types.Count, Is.EqualTo(after));
        foreach (var (kind, id) in ids)
        {
            Assert.That(types.GetKind(id), Is.EqualTo(kind), $"type {id}");
        }

        Assert.That(types.GetName(after), Is.EqualTo("after"));
        Assert.That(types.SizeOf(ids[BtfKind.Array]), Is.EqualTo(16UL));
        Assert.That(types.SizeOf(ids[BtfKind.Enum64]), Is.EqualTo(8UL));
        Assert.That(types.SizeOf(ids[BtfKind.Variable]), Is.EqualTo(4UL));
        Assert.That(types.Referenced(ids[BtfKind.Function]), Is.EqualTo(ids[BtfKind.FunctionPrototype]));
        Assert.That(types.GetKind(0), Is.EqualTo(BtfKind.Void));
        Assert.Throws<ProfileException>(() => types.SizeOf(ids[BtfKind.Forward]));
    }

    [Test]
    public void Missing_member_and_paths_through_pointers_are_clear_errors()
    {
        var missing = Assert.Throws<ProfileException>(() => s_types.OffsetOf("task_struct", "no_such_member"));
        Assert.That(missing!.Message, Does.Contain("no_such_member").And.Contain("task_struct"));

        var pointer = Assert.Throws<ProfileException>(() => s_types.OffsetOf("task_struct", "mm.pgd"));
        Assert.That(pointer!.Message, Does.Contain("Pointer"));

        var aggregate = Assert.Throws<ProfileException>(() => s_types.OffsetOf("no_such_struct", "x"));
        Assert.That(aggregate!.Message, Does.Contain("no_such_struct"));
    }

    [Test]
    public void Damaged_magic_is_rejected() => AssertDamaged(blob => blob[0] = 0x00, "offset 0x0", "magic");

    [Test]
    public void Short_blob_is_rejected()
    {
        var error = Assert.Throws<ProfileException>(() => BtfTypes.Parse(new byte[10]));
        Assert.That(error!.Message, Does.Contain("shorter than the 24-byte header"));
    }

    [Test]
    public void Type_section_past_the_end_is_rejected() =>
        AssertDamaged(blob => BinaryPrimitives.WriteUInt32LittleEndian(blob.AsSpan(12), 0x7FFF_0000), "offset 0x8", "type section");

    [Test]
    public void String_section_past_the_end_is_rejected() =>
        AssertDamaged(blob => BinaryPrimitives.WriteUInt32LittleEndian(blob.AsSpan(20), 0x7FFF_0000), "offset 0x10", "string section");

    [Test]
    public void Header_length_past_the_end_is_rejected() =>
        AssertDamaged(blob => BinaryPrimitives.WriteUInt32LittleEndian(blob.AsSpan(4), 0x7FFF_0000), "offset 0x4", "header length");

    [Test]
    public void Unknown_kind_is_rejected()
    {
        var b = new BtfBuilder();
        b.Int("int", 4);
        b.Raw(0, 25u << 24, 0);
        var error = Assert.Throws<ProfileException>(() => BtfTypes.Parse(b.Build()));
        Assert.That(error!.Message, Does.Contain("offset 0x28").And.Contain("unknown kind 25"));
    }

    [Test]
    public void Struct_whose_members_run_past_the_type_section_is_rejected()
    {
        var b = new BtfBuilder();
        b.Int("int", 4);
        b.Raw(0, (4u << 24) | 1000, 4);
        var error = Assert.Throws<ProfileException>(() => BtfTypes.Parse(b.Build()));
        Assert.That(error!.Message, Does.Contain("offset 0x28").And.Contain("Struct"));
    }

    [Test]
    public void Name_offset_past_the_strings_is_rejected()
    {
        var b = new BtfBuilder();
        b.Raw(50_000, 1u << 24, 4, 32);
        var error = Assert.Throws<ProfileException>(() => BtfTypes.Parse(b.Build()));
        Assert.That(error!.Message, Does.Contain("name offset 50000"));
    }

    [Test]
    public void Member_referring_to_a_missing_type_is_rejected_when_read()
    {
        var b = new BtfBuilder();
        var s = b.Struct("s", 8, ("a", 999, 0, 0));
        var types = BtfTypes.Parse(b.Build());
        var error = Assert.Throws<ProfileException>(() => types.GetMembers(s));
        Assert.That(error!.Message, Does.Contain("type 999"));
    }

    [Test]
    public void Cyclic_typedefs_are_rejected()
    {
        var b = new BtfBuilder();
        var a = b.Typedef("a", 2);
        b.Typedef("b", a);
        var types = BtfTypes.Parse(b.Build());
        var error = Assert.Throws<ProfileException>(() => types.SkipModifiers(a));
        Assert.That(error!.Message, Does.Contain("cycle"));
    }

    [Test]
    public void Random_damage_fails_only_with_ProfileException()
    {
        var random = new Random(1122);
        var original = SyntheticKernel.BuildBtf();
        var (parsed, rejected) = (0, 0);
        for (var round = 0; round < 300; round++)
        {
            var blob = (byte[])original.Clone();
            for (var i = 0; i < 4; i++)
            {
                blob[24 + random.Next(blob.Length - 24)] = (byte)random.Next(256);
            }

            try
            {
                var types = BtfTypes.Parse(blob);
                foreach (var (aggregate, path) in new[] { ("task_struct", "comm"), ("file", "f_path.dentry"), ("dentry", "d_name.name"), ("mm_struct", "exe_file") })
                {
                    var member = types.GetMemberPath(aggregate, path);
                    _ = types.SizeOf(member.TypeId);
                }

                parsed++;
            }
            catch (ProfileException)
            {
                rejected++;
            }
        }

        Assert.That(rejected, Is.GreaterThan(0), "damage is detected");
        Assert.That(parsed + rejected, Is.EqualTo(300), "no other exception escaped");
    }

    private static void AssertDamaged(Action<byte[]> damage, string offset, string what)
    {
        var blob = SyntheticKernel.BuildBtf();
        damage(blob);
        var error = Assert.Throws<ProfileException>(() => BtfTypes.Parse(blob));
        Assert.That(error!.Message, Does.Contain(offset).And.Contain(what));
    }
}
