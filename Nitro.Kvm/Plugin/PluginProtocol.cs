namespace Nitro.Kvm.Plugin;

/// <summary>
/// The control file the trap plugin shares with the host, version 2: the offsets of
/// <c>native/nitro_trap_protocol.h</c>, checked against gcc's <c>offsetof</c> by a test.
/// </summary>
internal static class PluginProtocol
{
    public const uint Magic = 0x5052544E; // "NTRP"
    public const uint Version = 2;
    public const int MaxVcpus = 64;
    public const int MaxPoints = 64;
    public const int MaxPath = 4;
    public const int FilterBits = 8192;
    public const int FilterSets = 2;
    public const int RingSlots = 256;
    public const int FrameMax = 512;
    public const int HeaderSize = 8192;
    public const int VcpuSize = 256 + (RingSlots * RecordSize);
    public const int RecordSize = 576;
    public const int MaxRamSegments = 8;

    public const int ModeSync = 1;
    public const int ModeStream = 2;
    public const int PointEntry = 1;
    public const int PointExit = 2;

    public const int HoldOff = 0;
    public const int HoldArmed = 1;
    public const int HoldWaiting = 2;
    public const int HoldReleased = 3;
    public const int HoldTimedOut = 4;

    public const int StateRunning = 1;
    public const int StateExited = 2;

    public const uint TrapFrame = 1;
    public const uint TrapTask = 2;
    public const uint TrapNumber = 4;
    public const uint TrapFrameCopied = 8;

    /// <summary>Offsets in <c>struct ntp_header</c>.</summary>
    public static class Header
    {
        public const int Magic = 0;
        public const int Version = 4;
        public const int HeaderSize = 8;
        public const int VcpuSize = 12;
        public const int VcpuCount = 16;
        public const int MaxVcpus = 20;
        public const int PluginPid = 24;
        public const int RingSlots = 28;
        public const int FrameMax = 32;
        public const int State = 36;
        public const int HoldState = 40;
        public const int RamFile = 44;
        public const int HostPid = 48;
        public const int Attached = 52;
        public const int Mode = 56;
        public const int TimeoutMs = 60;
        public const int Spin = 64;
        public const int PlanGeneration = 68;
        public const int AppliedGeneration = 72;
        public const int AttachEpoch = 76;
        public const int Resets = 80;
        public const int HostLost = 88;
        public const int MemoryErrors = 96;
        public const int Instrumented = 104;
        public const int RamAddress = 112;
        public const int RamSize = 120;
        public const int Plan = 144;
        public const int Filter = 1312;
        public const int RamSegmentCount = 3360;
        public const int RamSegments = 3368;
    }

    /// <summary>Offsets in <c>struct ntp_ram_segment</c>.</summary>
    public static class RamSegment
    {
        public const int Guest = 0;
        public const int Length = 8;
        public const int Offset = 16;
        public const int Size = 24;
    }

    /// <summary>Offsets in <c>struct ntp_plan</c>.</summary>
    public static class Plan
    {
        public const int PointCount = 0;
        public const int FilterEnabled = 4;
        public const int KernelRoot = 8;
        public const int PerVcpuTable = 16;
        public const int EntryNumberOffset = 24;
        public const int ExitNumberOffset = 28;
        public const int NumberMask = 32;
        public const int FrameSize = 40;
        public const int Frame = 48;
        public const int Task = 96;
        public const int Points = 144;
        public const int Size = 1168;

        // struct ntp_path
        public const int PathOffsets = 0;
        public const int PathCount = 32;
        public const int PathFinal = 40;
        public const int PathSize = 48;

        // struct ntp_point
        public const int PointAddress = 0;
        public const int PointKind = 8;
        public const int PointFilterSet = 12;
        public const int PointSize = 16;
    }

    /// <summary>Offsets in <c>struct ntp_vcpu</c>.</summary>
    public static class Vcpu
    {
        public const int Request = 0;
        public const int Answer = 4;
        public const int HostWaiting = 8;
        public const int CpuWaiting = 12;
        public const int Address = 16;
        public const int Flags = 24;
        public const int Kind = 28;
        public const int Number = 32;
        public const int Timestamp = 40;
        public const int FrameVa = 48;
        public const int Task = 56;
        public const int PerVcpuBase = 64;
        public const int Traps = 72;
        public const int Forwarded = 80;
        public const int Filtered = 88;
        public const int Lost = 96;
        public const int FutexWaits = 104;
        public const int RingWaits = 112;
        public const int Unattended = 120;
        public const int Head = 192;
        public const int Tail = 196;
        public const int RingHostWaiting = 200;
        public const int RingCpuWaiting = 204;
        public const int Ring = 256;
    }

    /// <summary>Offsets in <c>struct ntp_record</c>.</summary>
    public static class Record
    {
        public const int Sequence = 0;
        public const int Address = 8;
        public const int Flags = 16;
        public const int Kind = 20;
        public const int Number = 24;
        public const int Timestamp = 32;
        public const int FrameVa = 40;
        public const int Task = 48;
        public const int PerVcpuBase = 56;
        public const int Frame = 64;
    }
}
