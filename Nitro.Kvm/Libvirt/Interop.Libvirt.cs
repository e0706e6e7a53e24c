using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Nitro.Kvm.Libvirt;

namespace Nitro.Kvm;

internal static partial class Interop
{
    /// <summary>
    /// libvirt's public C API (libvirt.so.0). libvirt reports failures through its own
    /// thread-local error (virGetLastError), not errno, so no import sets the last P/Invoke error;
    /// every failing wrapper reads virGetLastError on the same thread, right after the call.
    /// </summary>
    internal static unsafe partial class Libvirt
    {
        internal const string LibraryName = "libvirt.so.0";

        private const int DomainEventIdLifecycle = 0;

        private static readonly Lock s_initializeLock = new();
        private static readonly ConcurrentDictionary<IntPtr, ILifecycleEventSink> s_lifecycleSinks = new();
        private static bool s_initialized;
        private static long s_nextSinkKey;

        /// <summary>Layout of <c>struct _virError</c> from &lt;libvirt/virterror.h&gt; (80 bytes on x86-64).</summary>
        [StructLayout(LayoutKind.Sequential)]
        internal struct VirError
        {
            public int Code;
            public int Domain;
            public IntPtr Message;
            public int Level;
            public IntPtr Conn;
            public IntPtr Dom;
            public IntPtr Str1;
            public IntPtr Str2;
            public IntPtr Str3;
            public int Int1;
            public int Int2;
            public IntPtr Net;
        }

        /// <summary>What virGetLastError held, copied out of libvirt's thread-local storage.</summary>
        internal readonly record struct ErrorInfo(int Code, int Domain, string? Message);

        // ---- connection -------------------------------------------------------------------

        internal static SafeConnectHandle ConnectOpen(string uri)
        {
            EnsureInitialized();
            virResetLastError();
            return virConnectOpen(uri);
        }

        internal static string? ConnectGetUri(SafeConnectHandle connection) => TakeString(virConnectGetURI(connection));

        /// <summary>Returns the domains, or null with libvirt's error left for <see cref="GetLastError"/>.</summary>
        internal static List<SafeDomainHandle>? ConnectListAllDomains(SafeConnectHandle connection)
        {
            IntPtr* array = null;
            var count = virConnectListAllDomains(connection, &array, 0);
            if (count < 0)
            {
                return null;
            }

            var result = new List<SafeDomainHandle>(count);
            for (var i = 0; i < count; i++)
            {
                result.Add(SafeDomainHandle.Own(array[i]));
            }

            NativeMemory.Free(array);
            return result;
        }

        internal static SafeDomainHandle DomainLookupByName(SafeConnectHandle connection, string name) =>
            virDomainLookupByName(connection, name);

        internal static SafeDomainHandle DomainDefineXml(SafeConnectHandle connection, string xml) =>
            virDomainDefineXML(connection, xml);

        // ---- domain -----------------------------------------------------------------------

        internal static string? DomainGetName(SafeDomainHandle domain) => Marshal.PtrToStringUTF8(virDomainGetName(domain));

        internal static uint DomainGetId(SafeDomainHandle domain) => virDomainGetID(domain);

        internal static bool DomainGetState(SafeDomainHandle domain, out int state, out int reason)
        {
            int s, r;
            var rc = virDomainGetState(domain, &s, &r, 0);
            state = s;
            reason = r;
            return rc == 0;
        }

        internal static bool DomainCreate(SafeDomainHandle domain) => virDomainCreate(domain) == 0;

        internal static bool DomainDestroy(SafeDomainHandle domain) => virDomainDestroy(domain) == 0;

        internal static bool DomainUndefine(SafeDomainHandle domain, uint flags) => virDomainUndefineFlags(domain, flags) == 0;

        internal static bool DomainSuspend(SafeDomainHandle domain) => virDomainSuspend(domain) == 0;

        internal static bool DomainResume(SafeDomainHandle domain) => virDomainResume(domain) == 0;

        internal static bool DomainCoreDump(SafeDomainHandle domain, string path, uint flags) =>
            virDomainCoreDump(domain, path, flags) == 0;

        internal static string? DomainGetXmlDesc(SafeDomainHandle domain, uint flags) => TakeString(virDomainGetXMLDesc(domain, flags));

        // ---- snapshots --------------------------------------------------------------------

        /// <summary>Returns the snapshot names, or null with libvirt's error left for <see cref="GetLastError"/>.</summary>
        internal static List<string>? DomainListAllSnapshotNames(SafeDomainHandle domain)
        {
            IntPtr* array = null;
            var count = virDomainListAllSnapshots(domain, &array, 0);
            if (count < 0)
            {
                return null;
            }

            var names = new List<string>(count);
            for (var i = 0; i < count; i++)
            {
                using var snapshot = SafeSnapshotHandle.Own(array[i]);
                names.Add(SnapshotGetName(snapshot) ?? string.Empty);
            }

            NativeMemory.Free(array);
            return names;
        }

        internal static SafeSnapshotHandle SnapshotLookupByName(SafeDomainHandle domain, string name) =>
            virDomainSnapshotLookupByName(domain, name, 0);

        internal static SafeSnapshotHandle SnapshotCurrent(SafeDomainHandle domain) => virDomainSnapshotCurrent(domain, 0);

        internal static bool DomainHasCurrentSnapshot(SafeDomainHandle domain, out bool has)
        {
            var rc = virDomainHasCurrentSnapshot(domain, 0);
            has = rc == 1;
            return rc >= 0;
        }

        internal static SafeSnapshotHandle SnapshotCreateXml(SafeDomainHandle domain, string xml) =>
            virDomainSnapshotCreateXML(domain, xml, 0);

        internal static string? SnapshotGetName(SafeSnapshotHandle snapshot) => Marshal.PtrToStringUTF8(virDomainSnapshotGetName(snapshot));

        internal static bool RevertToSnapshot(SafeSnapshotHandle snapshot) => virDomainRevertToSnapshot(snapshot, 0) == 0;

        // ---- lifecycle events -------------------------------------------------------------

        /// <summary>Receives lifecycle events on the event loop thread; must not throw.</summary>
        internal interface ILifecycleEventSink
        {
            void OnLifecycleEvent(string domainName, int eventType, int detail);
        }

        /// <summary>Registers for lifecycle events of every domain; returns libvirt's callback id, or -1 with the error left for <see cref="GetLastError"/>.</summary>
        /// <remarks>
        /// A successful registration holds a reference on <paramref name="connection"/> until
        /// <see cref="DeregisterEvents"/>, so disposing the connection first still lets the
        /// subscription deregister before virConnectClose runs.
        /// </remarks>
        internal static int RegisterLifecycleEvents(SafeConnectHandle connection, ILifecycleEventSink sink)
        {
            // The opaque pointer is a key, not a GCHandle: libvirt's free callback and a failed
            // registration may both try to release it, and removing a key twice is harmless.
            var added = false;
            connection.DangerousAddRef(ref added);
            var key = (IntPtr)Interlocked.Increment(ref s_nextSinkKey);
            s_lifecycleSinks[key] = sink;
            var id = virConnectDomainEventRegisterAny(
                connection, IntPtr.Zero, DomainEventIdLifecycle, (IntPtr)(delegate* unmanaged[Cdecl]<IntPtr, IntPtr, int, int, IntPtr, int>)&OnLifecycleEvent, key, &ReleaseSink);
            if (id < 0)
            {
                s_lifecycleSinks.TryRemove(key, out _);
                connection.DangerousRelease();
            }

            return id;
        }

        internal static void DeregisterEvents(SafeConnectHandle connection, int callbackId)
        {
            virConnectDomainEventDeregisterAny(connection.DangerousGetHandle(), callbackId);
            connection.DangerousRelease();
        }

        private static void RunEventLoop()
        {
            while (true)
            {
                virEventRunDefaultImpl();
            }
        }

        [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
        private static int OnLifecycleEvent(IntPtr connection, IntPtr domain, int eventType, int detail, IntPtr opaque)
        {
            try
            {
                if (s_lifecycleSinks.TryGetValue(opaque, out var sink))
                {
                    sink.OnLifecycleEvent(Marshal.PtrToStringUTF8(virDomainGetNameBorrowed(domain)) ?? string.Empty, eventType, detail);
                }
            }
#pragma warning disable CA1031 // An exception escaping an UnmanagedCallersOnly method ends the process.
            catch (Exception)
#pragma warning restore CA1031
            {
                return -1;
            }

            return 0;
        }

        [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
        private static void ReleaseSink(IntPtr opaque) => s_lifecycleSinks.TryRemove(opaque, out _);

        // ---- errors -----------------------------------------------------------------------

        internal static ErrorInfo GetLastError()
        {
            var error = virGetLastError();
            if (error is null)
            {
                return new ErrorInfo(0, 0, null);
            }

            var info = new ErrorInfo(error->Code, error->Domain, Marshal.PtrToStringUTF8(error->Message));
            virResetLastError();
            return info;
        }

        // ---- the QEMU driver's monitor passthrough (libvirt-qemu.so.0) ----------------------

        internal const string QemuLibraryName = "libvirt-qemu.so.0";

        private const uint QemuMonitorCommandHmp = 1;

        /// <summary>Runs a human-monitor command in the domain's QEMU; null with libvirt's error left for <see cref="GetLastError"/>.</summary>
        internal static string? DomainQemuMonitorCommandHmp(SafeDomainHandle domain, string command)
        {
            byte* result = null;
            return virDomainQemuMonitorCommand(domain, command, &result, QemuMonitorCommandHmp) < 0 ? null : TakeString(result);
        }

        [LibraryImport(QemuLibraryName, StringMarshalling = StringMarshalling.Utf8)]
        private static partial int virDomainQemuMonitorCommand(SafeDomainHandle domain, string command, byte** result, uint flags);

        // ---- release functions for the SafeHandles ----------------------------------------

        [LibraryImport(LibraryName)]
        internal static partial int virConnectClose(IntPtr connection);

        [LibraryImport(LibraryName)]
        internal static partial int virDomainFree(IntPtr domain);

        [LibraryImport(LibraryName)]
        internal static partial int virDomainSnapshotFree(IntPtr snapshot);

        // ---- helpers ----------------------------------------------------------------------

        /// <summary>Reads a string libvirt allocated for the caller and frees it with free(3).</summary>
        private static string? TakeString(byte* text)
        {
            if (text is null)
            {
                return null;
            }

            try
            {
                return Marshal.PtrToStringUTF8((IntPtr)text);
            }
            finally
            {
                NativeMemory.Free(text);
            }
        }

        /// <summary>
        /// virInitialize must run before any other call: until it has created libvirt's thread-local
        /// error key, virResetLastError reads someone else's thread-local slot and frees garbage.
        /// libvirt's default error handler prints every error to stderr; the wrappers report errors
        /// through <see cref="LibvirtException"/> instead, so the process-wide handler is a no-op.
        /// </summary>
        private static void EnsureInitialized()
        {
            lock (s_initializeLock)
            {
                if (s_initialized)
                {
                    return;
                }

                if (virInitialize() < 0)
                {
                    throw new LibvirtException($"virInitialize failed: {LibraryName} could not initialize (threads, random numbers or its error reporting).");
                }

                virSetErrorFunc(IntPtr.Zero, &IgnoreError);

                // Events (and the test driver's event queue) need an event loop registered before
                // the first connection opens; one background thread runs it for the process.
                if (virEventRegisterDefaultImpl() < 0)
                {
                    throw new LibvirtException($"virEventRegisterDefaultImpl failed: {LibraryName} could not set up its event loop.");
                }

                var loop = new Thread(RunEventLoop) { IsBackground = true, Name = "libvirt event loop" };
                loop.Start();
                s_initialized = true;
            }
        }

        [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
        private static void IgnoreError(IntPtr userData, VirError* error)
        {
        }

        // ---- raw imports ------------------------------------------------------------------

        [LibraryImport(LibraryName)]
        private static partial int virInitialize();

        [LibraryImport(LibraryName, StringMarshalling = StringMarshalling.Utf8)]
        private static partial SafeConnectHandle virConnectOpen(string uri);

        [LibraryImport(LibraryName)]
        private static partial byte* virConnectGetURI(SafeConnectHandle connection);

        [LibraryImport(LibraryName)]
        private static partial int virConnectListAllDomains(SafeConnectHandle connection, IntPtr** domains, uint flags);

        [LibraryImport(LibraryName, StringMarshalling = StringMarshalling.Utf8)]
        private static partial SafeDomainHandle virDomainLookupByName(SafeConnectHandle connection, string name);

        [LibraryImport(LibraryName)]
        private static partial IntPtr virDomainGetName(SafeDomainHandle domain);

        [LibraryImport(LibraryName, StringMarshalling = StringMarshalling.Utf8)]
        private static partial SafeDomainHandle virDomainDefineXML(SafeConnectHandle connection, string xml);

        [LibraryImport(LibraryName)]
        private static partial int virDomainUndefineFlags(SafeDomainHandle domain, uint flags);

        [LibraryImport(LibraryName)]
        private static partial uint virDomainGetID(SafeDomainHandle domain);

        [LibraryImport(LibraryName)]
        private static partial int virDomainGetState(SafeDomainHandle domain, int* state, int* reason, uint flags);

        [LibraryImport(LibraryName)]
        private static partial int virDomainCreate(SafeDomainHandle domain);

        [LibraryImport(LibraryName)]
        private static partial int virDomainDestroy(SafeDomainHandle domain);

        [LibraryImport(LibraryName)]
        private static partial int virDomainSuspend(SafeDomainHandle domain);

        [LibraryImport(LibraryName)]
        private static partial int virDomainResume(SafeDomainHandle domain);

        [LibraryImport(LibraryName, StringMarshalling = StringMarshalling.Utf8)]
        private static partial int virDomainCoreDump(SafeDomainHandle domain, string to, uint flags);

        [LibraryImport(LibraryName)]
        private static partial byte* virDomainGetXMLDesc(SafeDomainHandle domain, uint flags);

        [LibraryImport(LibraryName)]
        private static partial int virDomainListAllSnapshots(SafeDomainHandle domain, IntPtr** snapshots, uint flags);

        [LibraryImport(LibraryName, StringMarshalling = StringMarshalling.Utf8)]
        private static partial SafeSnapshotHandle virDomainSnapshotLookupByName(SafeDomainHandle domain, string name, uint flags);

        [LibraryImport(LibraryName)]
        private static partial SafeSnapshotHandle virDomainSnapshotCurrent(SafeDomainHandle domain, uint flags);

        [LibraryImport(LibraryName)]
        private static partial int virDomainHasCurrentSnapshot(SafeDomainHandle domain, uint flags);

        [LibraryImport(LibraryName, StringMarshalling = StringMarshalling.Utf8)]
        private static partial SafeSnapshotHandle virDomainSnapshotCreateXML(SafeDomainHandle domain, string xml, uint flags);

        [LibraryImport(LibraryName)]
        private static partial IntPtr virDomainSnapshotGetName(SafeSnapshotHandle snapshot);

        [LibraryImport(LibraryName)]
        private static partial int virDomainRevertToSnapshot(SafeSnapshotHandle snapshot, uint flags);

        [LibraryImport(LibraryName, EntryPoint = "virDomainGetName")]
        private static partial IntPtr virDomainGetNameBorrowed(IntPtr domain);

        [LibraryImport(LibraryName)]
        private static partial int virEventRegisterDefaultImpl();

        [LibraryImport(LibraryName)]
        private static partial int virEventRunDefaultImpl();

        [LibraryImport(LibraryName)]
        private static partial int virConnectDomainEventRegisterAny(
            SafeConnectHandle connection, IntPtr domain, int eventId, IntPtr callback, IntPtr opaque, delegate* unmanaged[Cdecl]<IntPtr, void> freeCallback);

        [LibraryImport(LibraryName)]
        private static partial int virConnectDomainEventDeregisterAny(IntPtr connection, int callbackId);

        [LibraryImport(LibraryName)]
        private static partial VirError* virGetLastError();

        [LibraryImport(LibraryName)]
        private static partial void virResetLastError();

        [LibraryImport(LibraryName)]
        private static partial void virSetErrorFunc(IntPtr userData, delegate* unmanaged[Cdecl]<IntPtr, VirError*, void> handler);
    }
}
