using Iced.Intel;

namespace Nitro.Backends.Linux.Profile;

/// <summary>
/// Reads the number-to-handler map out of a kernel system call dispatcher compiled from a
/// <c>switch</c> — <c>long ia32_sys_call(const struct pt_regs *regs, unsigned int nr)</c> on kernels
/// without <c>ia32_sys_call_table</c> (the BHI mitigation). With retpolines the compiler emits no jump
/// table but a tree of <c>cmp nr, imm</c> and conditional branches whose leaves tail-call (or call
/// and return) one handler each. The decoder walks every path of that tree with Iced, keeping the set
/// of numbers that can still reach the current instruction, and maps each number to the handler at
/// the leaf it reaches.
/// </summary>
internal static class SyscallSwitchDecoder
{
    /// <summary>The most instructions decoded along all paths before the decoder gives up (hostile or unexpected code).</summary>
    private const int MaxSteps = 200_000;

    /// <summary>Decodes a dispatcher.</summary>
    /// <param name="code">The function's bytes, from its first instruction to the next symbol.</param>
    /// <param name="start">The virtual address of <paramref name="code"/>[0].</param>
    /// <param name="numberRegister">The register that holds the number at entry (ESI: the second argument).</param>
    /// <param name="limit">Numbers from 0 to <paramref name="limit"/> − 1 are mapped.</param>
    /// <returns>The handler address of every number below <paramref name="limit"/>.</returns>
    /// <exception cref="ProfileException">The code is not a compare tree this decoder understands, or some number reaches no handler.</exception>
    public static ulong[] Decode(byte[] code, ulong start, Register numberRegister, int limit)
    {
        ArgumentNullException.ThrowIfNull(code);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(limit);
        var walker = new Walker(code, start, limit);
        walker.Run(new PathState(start, new NumberSet(0, limit - 1, []), [new Alias(numberRegister.GetFullRegister())], default));
        return walker.Result();
    }

    /// <summary>A register that holds the number.</summary>
    private readonly record struct Alias(Register Register);

    /// <summary>The comparison whose flags the next conditional branch tests.</summary>
    private readonly record struct Pending(bool Valid, ulong Value, bool FromTest);

    private readonly record struct PathState(ulong Ip, NumberSet Numbers, Alias[] Aliases, Pending Pending);

    private sealed class Walker(byte[] code, ulong start, int limit)
    {
        private readonly ulong[] _targets = new ulong[limit];
        private readonly ByteArrayCodeReader _reader = new(code);
        private readonly InstructionInfoFactory _info = new();
        private int _steps;

        public void Run(PathState first)
        {
            var decoder = Iced.Intel.Decoder.Create(64, _reader, start);
            var work = new Stack<PathState>();
            work.Push(first);
            while (work.Count > 0)
            {
                var state = work.Pop();
                Follow(decoder, state, work);
            }
        }

        public ulong[] Result()
        {
            for (var number = 0; number < _targets.Length; number++)
            {
                if (_targets[number] == 0)
                {
                    throw new ProfileException($"No path of the dispatcher at 0x{start:x} reaches a handler for number {number}; its code is not a plain compare tree.");
                }
            }

            return _targets;
        }

        private void Follow(Iced.Intel.Decoder decoder, PathState state, Stack<PathState> work)
        {
            var ip = state.Ip;
            var numbers = state.Numbers;
            var aliases = state.Aliases;
            var pending = state.Pending;
            while (true)
            {
                if (++_steps > MaxSteps)
                {
                    throw Unsupported(ip, $"more than {MaxSteps} instructions on its paths");
                }

                var instruction = DecodeAt(decoder, ip);
                switch (instruction.FlowControl)
                {
                    case FlowControl.Next:
                        (aliases, pending) = Execute(in instruction, aliases, pending);
                        ip = instruction.NextIP;
                        break;

                    case FlowControl.UnconditionalBranch when instruction.Op0Kind is OpKind.NearBranch64:
                        if (!IsInside(instruction.NearBranchTarget))
                        {
                            Assign(numbers, instruction.NearBranchTarget, ip);
                            return;
                        }

                        ip = instruction.NearBranchTarget;
                        break;

                    case FlowControl.ConditionalBranch when instruction.Op0Kind is OpKind.NearBranch64:
                        numbers = Branch(in instruction, numbers, aliases, pending, work);
                        if (numbers.IsEmpty)
                        {
                            return;
                        }

                        ip = instruction.NextIP;
                        break;

                    case FlowControl.Call when instruction.Op0Kind is OpKind.NearBranch64 && ip == start:
                        // 'call __fentry__' before ftrace patched it to a NOP: it preserves every register.
                        ip = instruction.NextIP;
                        break;

                    case FlowControl.Call when instruction.Op0Kind is OpKind.NearBranch64:
                        RequireReturnAfter(decoder, in instruction);
                        Assign(numbers, instruction.NearBranchTarget, ip);
                        return;

                    default:
                        throw Unsupported(ip, $"'{instruction}' at 0x{ip:x}");
                }
            }
        }

        /// <summary>Queues the taken side of a conditional branch (or assigns it, for a conditional tail call); returns the fall-through side.</summary>
        private NumberSet Branch(in Instruction instruction, NumberSet numbers, Alias[] aliases, Pending pending, Stack<PathState> work)
        {
            var (taken, fallThrough) = Split(in instruction, numbers, pending);
            if (!taken.IsEmpty)
            {
                if (IsInside(instruction.NearBranchTarget))
                {
                    work.Push(new PathState(instruction.NearBranchTarget, taken, aliases, pending));
                }
                else
                {
                    Assign(taken, instruction.NearBranchTarget, instruction.IP);
                }
            }

            return fallThrough;
        }

        /// <summary>A call that is not a tail call must be followed by a return (<c>ret</c>, or a jump to the return thunk).</summary>
        private void RequireReturnAfter(Iced.Intel.Decoder decoder, in Instruction call)
        {
            var after = DecodeAt(decoder, call.NextIP);
            var returns = after.FlowControl == FlowControl.Return
                || (after.FlowControl == FlowControl.UnconditionalBranch && after.Op0Kind == OpKind.NearBranch64 && !IsInside(after.NearBranchTarget));
            if (!returns)
            {
                throw Unsupported(call.IP, $"'call' at 0x{call.IP:x} is not followed by a return");
            }
        }

        private Instruction DecodeAt(Iced.Intel.Decoder decoder, ulong ip)
        {
            if (!IsInside(ip) || ip - start > (ulong)(code.Length - 1))
            {
                throw Unsupported(ip, $"a path that runs off the function at 0x{ip:x}");
            }

            _reader.Position = (int)(ip - start);
            decoder.IP = ip;
            decoder.Decode(out var instruction);
            if (instruction.IsInvalid || instruction.NextIP - start > (ulong)code.Length)
            {
                throw Unsupported(ip, $"undecodable bytes at 0x{ip:x}");
            }

            return instruction;
        }

        private bool IsInside(ulong address) => address >= start && address - start < (ulong)code.Length;

        private void Assign(NumberSet numbers, ulong target, ulong ip)
        {
            for (var number = numbers.Low; number <= numbers.High; number++)
            {
                if (numbers.Contains(number))
                {
                    var slot = _targets[number];
                    if (slot != 0 && slot != target)
                    {
                        throw Unsupported(ip, $"number {number} reaching both 0x{slot:x} and 0x{target:x}");
                    }

                    _targets[number] = target;
                }
            }
        }

        private (Alias[] Aliases, Pending Pending) Execute(in Instruction instruction, Alias[] aliases, Pending pending)
        {
            if (instruction.Mnemonic is Mnemonic.Nop or Mnemonic.Endbr64)
            {
                return (aliases, pending);
            }

            if (instruction.Mnemonic == Mnemonic.Cmp && instruction.Op0Kind == OpKind.Register && IsAlias(aliases, instruction.Op0Register) && IsImmediate(instruction.Op1Kind))
            {
                var width = instruction.Op0Register.GetSize();
                var value = instruction.GetImmediate(1);
                return (aliases, new Pending(true, width == 4 ? (uint)value : value, FromTest: false));
            }

            if (instruction.Mnemonic == Mnemonic.Test && instruction.Op0Kind == OpKind.Register && instruction.Op1Kind == OpKind.Register
                && instruction.Op0Register == instruction.Op1Register && IsAlias(aliases, instruction.Op0Register))
            {
                return (aliases, new Pending(true, 0, FromTest: true));
            }

            // A copy of the number into another register: 'mov eax, esi'.
            if (instruction.Mnemonic == Mnemonic.Mov && instruction.Op0Kind == OpKind.Register && instruction.Op1Kind == OpKind.Register
                && IsAlias(aliases, instruction.Op1Register) && instruction.Op0Register.GetSize() >= 4)
            {
                var copy = instruction.Op0Register.GetFullRegister();
                return (IsAlias(aliases, copy) ? aliases : [.. aliases, new Alias(copy)], pending);
            }

            foreach (var used in _info.GetInfo(in instruction).GetUsedRegisters())
            {
                var writes = used.Access is OpAccess.Write or OpAccess.ReadWrite or OpAccess.CondWrite or OpAccess.ReadCondWrite;
                if (writes && IsAlias(aliases, used.Register))
                {
                    aliases = [.. aliases.Where(a => a.Register != used.Register.GetFullRegister())];
                }
            }

            if (aliases.Length == 0)
            {
                throw Unsupported(instruction.IP, $"'{instruction}' at 0x{instruction.IP:x} overwriting the number");
            }

            return (aliases, instruction.RflagsModified != RflagsBits.None ? default : pending);
        }

        private static bool IsAlias(Alias[] aliases, Register register)
        {
            var full = register.GetFullRegister();
            foreach (var alias in aliases)
            {
                if (alias.Register == full)
                {
                    return true;
                }
            }

            return false;
        }

        private static bool IsImmediate(OpKind kind) => kind is OpKind.Immediate8 or OpKind.Immediate8to32 or OpKind.Immediate8to64 or OpKind.Immediate32 or OpKind.Immediate32to64;

        private (NumberSet Taken, NumberSet FallThrough) Split(in Instruction instruction, NumberSet numbers, Pending pending)
        {
            if (!pending.Valid)
            {
                throw Unsupported(instruction.IP, $"'{instruction}' at 0x{instruction.IP:x} testing flags of no comparison of the number");
            }

            var c = pending.Value;
            var signed = instruction.ConditionCode is ConditionCode.g or ConditionCode.ge or ConditionCode.l or ConditionCode.le;
            if ((pending.FromTest && instruction.ConditionCode is not (ConditionCode.e or ConditionCode.ne)) || (signed && c > int.MaxValue))
            {
                throw Unsupported(instruction.IP, $"'{instruction}' at 0x{instruction.IP:x}, a comparison the decoder does not model");
            }

            // The numbers are below 2^31, so signed and unsigned orders agree for a non-negative constant.
            var value = (long)Math.Min(c, (ulong)long.MaxValue);
            return instruction.ConditionCode switch
            {
                ConditionCode.e => (numbers.Only(value), numbers.Without(value)),
                ConditionCode.ne => (numbers.Without(value), numbers.Only(value)),
                ConditionCode.a or ConditionCode.g => (numbers.Above(value), numbers.AtMost(value)),
                ConditionCode.ae or ConditionCode.ge => (numbers.AtLeast(value), numbers.Below(value)),
                ConditionCode.b or ConditionCode.l => (numbers.Below(value), numbers.AtLeast(value)),
                ConditionCode.be or ConditionCode.le => (numbers.AtMost(value), numbers.Above(value)),
                _ => throw Unsupported(instruction.IP, $"'{instruction}' at 0x{instruction.IP:x}, a condition the decoder does not model"),
            };
        }

        private ProfileException Unsupported(ulong ip, string what) =>
            new($"The system call dispatcher at 0x{start:x} is not a compare tree this decoder understands: {what} (0x{ip:x}).");
    }

    /// <summary>The numbers that can reach an instruction: an interval minus a few values excluded by equality tests.</summary>
    private readonly record struct NumberSet(long Low, long High, long[] Excluded)
    {
        public bool IsEmpty => Low > High || (High - Low + 1) <= Excluded.Length;

        public bool Contains(long value) => value >= Low && value <= High && Array.IndexOf(Excluded, value) < 0;

        public NumberSet Only(long value) => Contains(value) ? new NumberSet(value, value, []) : Empty;

        public NumberSet Without(long value)
        {
            if (!Contains(value))
            {
                return this;
            }

            return Normalize(Low, High, [.. Excluded, value]);
        }

        public NumberSet Above(long value) => value == long.MaxValue ? Empty : Normalize(Math.Max(Low, value + 1), High, Excluded);

        public NumberSet AtLeast(long value) => Normalize(Math.Max(Low, value), High, Excluded);

        public NumberSet Below(long value) => value <= 0 ? Empty : Normalize(Low, Math.Min(High, value - 1), Excluded);

        public NumberSet AtMost(long value) => Normalize(Low, Math.Min(High, value), Excluded);

        private static NumberSet Empty => new(1, 0, []);

        private static NumberSet Normalize(long low, long high, long[] excluded)
        {
            while (low <= high && Array.IndexOf(excluded, low) >= 0)
            {
                low++;
            }

            while (low <= high && Array.IndexOf(excluded, high) >= 0)
            {
                high--;
            }

            return low > high ? Empty : new NumberSet(low, high, [.. excluded.Where(e => e > low && e < high).Distinct()]);
        }
    }
}
