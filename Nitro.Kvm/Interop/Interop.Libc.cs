using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Nitro.Kvm;

/// <summary>Native imports, one nested class per library (as in dotnet/runtime).</summary>
internal static partial class Interop
{
    /// <summary>The C library: <c>ioctl</c> for the Nitro KVM ABI.</summary>
    internal static unsafe partial class Libc
    {
        private const string LibraryName = "libc";

        /// <summary><c>ioctl(fd, request, &amp;value)</c> with a struct or integer passed by pointer.</summary>
        public static int Ioctl<T>(SafeFileHandle fd, uint request, ref T value)
            where T : unmanaged
        {
            fixed (T* pointer = &value)
            {
                return IoctlPointer(fd, request, pointer);
            }
        }

        /// <summary><c>ioctl(fd, request, value)</c> with an integer passed by value (ATTACH_VM, SET_SYSCALL_TRAP).</summary>
        public static int IoctlInt(SafeFileHandle fd, uint request, int value) => IoctlValue(fd, request, value);

        /// <summary><c>ioctl(fd, request)</c> without argument (CONTINUE).</summary>
        public static int IoctlNone(SafeFileHandle fd, uint request) => IoctlValue(fd, request, 0);

        [LibraryImport(LibraryName, EntryPoint = "ioctl", SetLastError = true)]
        private static partial int IoctlPointer(SafeFileHandle fd, nuint request, void* argument);

        [LibraryImport(LibraryName, EntryPoint = "ioctl", SetLastError = true)]
        private static partial int IoctlValue(SafeFileHandle fd, nuint request, nint argument);
    }
}
