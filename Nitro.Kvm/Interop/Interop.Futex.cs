using System.Runtime.InteropServices;

namespace Nitro.Kvm;

internal static partial class Interop
{
    /// <summary>Futexes on words of a shared mapping (the trap plugin's control file), and process liveness.</summary>
    internal static unsafe partial class Futex
    {
        private const string LibraryName = "libc";
        private const nint SysFutex = 202; // x86-64
        private const int FutexWait = 0;
        private const int FutexWake = 1;

        private struct Timespec
        {
            public long Seconds;
            public long Nanoseconds;
        }

        /// <summary>Sleeps while <c>*word == expected</c>, at most <paramref name="timeout"/>; returns early on a wake or a change.</summary>
        public static void Wait(uint* word, uint expected, TimeSpan timeout)
        {
            var nanoseconds = (long)(timeout.TotalMilliseconds * 1_000_000);
            var spec = new Timespec { Seconds = nanoseconds / 1_000_000_000, Nanoseconds = nanoseconds % 1_000_000_000 };
            Syscall(SysFutex, word, FutexWait, expected, &spec, 0, 0);
        }

        /// <summary>Wakes every waiter on <paramref name="word"/>.</summary>
        public static void Wake(uint* word) => Syscall(SysFutex, word, FutexWake, int.MaxValue, null, 0, 0);

        /// <summary>Whether process <paramref name="pid"/> exists (<c>kill(pid, 0)</c> did not fail with ESRCH).</summary>
        public static bool ProcessExists(int pid)
        {
            const int Esrch = 3;
            return pid > 0 && (Kill(pid, 0) == 0 || Marshal.GetLastPInvokeError() != Esrch);
        }

        [LibraryImport(LibraryName, EntryPoint = "syscall", SetLastError = true)]
        private static partial long Syscall(nint number, uint* word, int operation, uint value, Timespec* timeout, nint address2, nint value3);

        [LibraryImport(LibraryName, EntryPoint = "kill", SetLastError = true)]
        private static partial int Kill(int pid, int signal);
    }
}
