package io.spindle.runtime.onnx.capi;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.FloatBuffer;
import java.util.List;
import java.util.Map;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The FFM layer on a real ONNX Runtime session (CPU): loading, memory infos, allocators, tensors over
 * Spindle's memory, bound runs against {@code OrtSession.run}, the error and cancellation paths, and
 * the ledger back at zero after each of them.
 */
class OrtCapiTest {
    private static final OrtEnvironment ENV = OrtEnvironment.getEnvironment();
    private final OrtCapi api = OrtCapi.load();
    private final NativeLedger ledger = new NativeLedger();
    private OrtSession session;
    private Arena arena;

    @BeforeEach
    void open() throws Exception {
        session = ENV.createSession(AffineGraph.bytes(), new OrtSession.SessionOptions());
        arena = Arena.ofConfined();
    }

    @AfterEach
    void close() throws Exception {
        arena.close();
        session.close();
    }

    @Test
    void loadsTheLibraryTheJarLoadedAtItsVersion() {
        assertEquals(ENV.getVersion(), api.version());
        assertTrue(api.version().startsWith("1.29."), api.version());
        assertTrue(api.library().getFileName().toString().startsWith("libonnxruntime"), api.library().toString());
        assertTrue(OrtCapi.load() == api, "one instance per process");
    }

    @Test
    void memoryInfosReadBackAndCloseOnce() {
        MemoryInfo cpu = MemoryInfo.cpu(api, ledger);
        assertEquals("Cpu", cpu.name());
        assertEquals(0, cpu.deviceId());
        assertEquals(0, cpu.memType());
        assertEquals(0, cpu.allocatorType());
        assertTrue(cpu.hostAccessible());
        MemoryInfo cuda = MemoryInfo.cuda(api, ledger, 1);
        assertEquals("Cuda", cuda.name());
        assertEquals(1, cuda.deviceId());
        assertFalse(cuda.hostAccessible());
        assertEquals(2, ledger.live(NativeLedger.Kind.MEMORY_INFO));
        cpu.close();
        cpu.close();
        cuda.close();
        assertThrows(IllegalStateException.class, cpu::memType, "no use after close");
        assertTrue(ledger.isClean(), ledger.toString());
    }

    @Test
    void allocationsAreCountedUntilFreedAndTheAllocatorFreesWhatIsLeft() {
        SessionHandle handle = SessionHandle.of(session);
        try (MemoryInfo cpu = MemoryInfo.cpu(api, ledger); Allocator alloc = Allocator.of(api, ledger, handle, cpu)) {
            Allocator.Block a = alloc.allocate(1024);
            Allocator.Block b = alloc.allocate(100);
            a.segment().fill((byte) 7);
            assertEquals(7, a.segment().get(java.lang.foreign.ValueLayout.JAVA_BYTE, 1023));
            assertEquals(2, ledger.live(NativeLedger.Kind.ALLOCATION));
            assertEquals(1124, ledger.liveBytes());
            a.close();
            a.close();
            assertEquals(100, ledger.liveBytes());
            assertThrows(IllegalStateException.class, a::address, "no use after free");
            assertEquals(1, alloc.numLive());
            // b is left for the allocator's close.
            assertFalse(b.address().equals(MemorySegment.NULL));
        }
        assertTrue(ledger.isClean(), ledger.toString());
    }

    @Test
    void aCudaAllocatorIsRefusedByACpuSessionWithOrtsMessage() {
        SessionHandle handle = SessionHandle.of(session);
        try (MemoryInfo cuda = MemoryInfo.cuda(api, ledger, 0)) {
            OrtStatusException e = assertThrows(OrtStatusException.class, () -> Allocator.of(api, ledger, handle, cuda));
            assertFalse(e.getMessage().isBlank());
        }
        assertTrue(ledger.isClean(), ledger.toString());
    }

    @Test
    void entriesPastTheIoBindingOnesAnswerAsTheHeaderSays() {
        // GetBuildInfoString (254) is checked at load. CopyTensors (386) checks its tensors and then looks for the
        // environment's data transfer between their devices: the jar's environment has none registered, not even
        // CPU to CPU (1.29, measured), which is why the KV cache copies through sessions (DeviceCopy).
        assertTrue(api.buildInfo().startsWith("ORT Build Info"), api.buildInfo());
        MemorySegment from = arena.allocateFrom(JAVA_FLOAT, 1, 2, 3, 4, 5, 6);
        MemorySegment to = arena.allocate(JAVA_FLOAT, 6);
        MemorySegment other = arena.allocate(JAVA_FLOAT, 2);
        try (MemoryInfo cpu = MemoryInfo.cpu(api, ledger);
             Tensor a = Tensor.over(api, ledger, cpu, from, ElementType.FLOAT, 2, 3);
             Tensor b = Tensor.over(api, ledger, cpu, to, ElementType.FLOAT, 2, 3);
             Tensor d = Tensor.over(api, ledger, cpu, other, ElementType.FLOAT, 2)) {
            OrtStatusException e = assertThrows(OrtStatusException.class, () -> Tensor.copy(api, ENV, List.of(a), List.of(b)));
            assertTrue(e.getMessage().startsWith("CopyTensors failed") && e.getMessage().contains("Data transfer"),
                    e.getMessage());
            assertArrayEquals(new float[6], to.toArray(JAVA_FLOAT), "nothing was written");
            assertThrows(IllegalArgumentException.class, () -> Tensor.copy(api, ENV, List.of(a), List.of(d)), "sizes differ");
        }
        assertTrue(ledger.isClean(), ledger.toString());
    }

    @Test
    void deviceCopiesPadAndSliceThroughSessionsAndCountEachDirection() throws Exception {
        float[] src = new float[2 * 3 * 4 * 2];
        for (int i = 0; i < src.length; i++) {
            src[i] = i + 1;
        }
        try (OrtSession pad = ENV.createSession(CopyGraphs.pad(ElementType.FLOAT), new OrtSession.SessionOptions());
             OrtSession slice = ENV.createSession(CopyGraphs.slice(ElementType.FLOAT), new OrtSession.SessionOptions());
             MemoryInfo host = MemoryInfo.cpu(api, ledger);
             MemoryInfo device = MemoryInfo.cpu(api, ledger);
             DeviceCopy copy = new DeviceCopy(api, ledger, SessionHandle.of(pad), SessionHandle.of(slice), host, device)) {
            MemorySegment a = arena.allocateFrom(JAVA_FLOAT, src);
            MemorySegment b = arena.allocate(JAVA_FLOAT, 3 * 3 * 6 * 2);
            MemorySegment c = arena.allocate(JAVA_FLOAT, 1 * 3 * 2 * 2);
            try (Tensor ta = Tensor.over(api, ledger, host, a, ElementType.FLOAT, 2, 3, 4, 2);
                 Tensor tb = Tensor.over(api, ledger, device, b, ElementType.FLOAT, 3, 3, 6, 2);
                 Tensor tc = Tensor.over(api, ledger, host, c, ElementType.FLOAT, 1, 3, 2, 2)) {
                copy.padInto(ta, tb);  // host to device, into a larger tensor
                float[] grown = b.toArray(JAVA_FLOAT);
                for (int i = 0; i < 2; i++) {
                    for (int h = 0; h < 3; h++) {
                        for (int p = 0; p < 6; p++) {
                            for (int d = 0; d < 2; d++) {
                                float want = p < 4 ? src[((i * 3 + h) * 4 + p) * 2 + d] : 0;
                                assertEquals(want, grown[((i * 3 + h) * 6 + p) * 2 + d]);
                            }
                        }
                    }
                }
                copy.sliceInto(tb, new long[] {1, 0, 2, 0}, tc);  // device to host, positions [2, 4) of row 1
                float[] got = c.toArray(JAVA_FLOAT);
                for (int h = 0; h < 3; h++) {
                    for (int p = 0; p < 2; p++) {
                        for (int d = 0; d < 2; d++) {
                            assertEquals(src[((3 + h) * 4 + 2 + p) * 2 + d], got[(h * 2 + p) * 2 + d]);
                        }
                    }
                }
                copy.padInto(tb, tb);  // device to device (in place: same shape)
                assertArrayEquals(grown, b.toArray(JAVA_FLOAT));
                assertThrows(IllegalArgumentException.class, () -> copy.padInto(tb, ta), "cannot shrink");
                Transfers t = copy.totals();
                assertEquals(3, t.runs());
                assertEquals(src.length * 4L, t.hostToDevice());
                assertEquals(12 * 4L, t.deviceToHost());
                assertEquals(3 * 3 * 6 * 2 * 4L, t.deviceToDevice());
                assertEquals(0, ledger.live(NativeLedger.Kind.VALUE) - 3, "only the caller's tensors are live");
            }
        }
        assertTrue(ledger.isClean(), ledger.toString());
    }

    @Test
    void aBoundRunEqualsSessionRun() throws Exception {
        float[] x = {1, 2, 3, 4, -1, 0.5f, 0, 2};
        float[] state = {0.5f, 0, -1, 2, 2, 2};
        float[] want;
        try (OnnxTensor tx = OnnxTensor.createTensor(ENV, FloatBuffer.wrap(x), new long[] {2, 4});
             OnnxTensor ts = OnnxTensor.createTensor(ENV, FloatBuffer.wrap(state), new long[] {2, 3});
             OrtSession.Result r = session.run(Map.of("x", tx, "state", ts))) {
            want = ((OnnxTensor) r.get(0)).getFloatBuffer().array();
        }
        assertArrayEquals(AffineGraph.expected(x, state, 2), want, 1e-5f);
        MemorySegment xs = arena.allocateFrom(JAVA_FLOAT, x);
        MemorySegment ss = arena.allocateFrom(JAVA_FLOAT, state);
        MemorySegment ys = arena.allocate(JAVA_FLOAT, 6);
        try (MemoryInfo cpu = MemoryInfo.cpu(api, ledger);
             IoBinding binding = IoBinding.create(api, ledger, SessionHandle.of(session), cpu);
             Tensor vx = Tensor.over(api, ledger, cpu, xs, ElementType.FLOAT, 2, 4);
             Tensor vs = Tensor.over(api, ledger, cpu, ss, ElementType.FLOAT, 2, 3);
             Tensor vy = Tensor.over(api, ledger, cpu, ys, ElementType.FLOAT, 2, 3);
             Allocator alloc = Allocator.of(api, ledger, SessionHandle.of(session), cpu)) {
            binding.bindInput("x", vx);
            binding.bindInput("state", vs);
            binding.bindOutput("y", vy);
            binding.synchronizeInputs();
            binding.run();
            binding.synchronizeOutputs();
            assertArrayEquals(want, ys.toArray(JAVA_FLOAT));
            List<Tensor> outs = binding.outputs(alloc);
            assertEquals(1, outs.size());
            assertArrayEquals(new long[] {2, 3}, outs.get(0).shape());
            assertEquals(ys.address(), outs.get(0).data().address(), "the output is Spindle's memory, written in place");
            outs.forEach(Tensor::close);

            // Rebound: ONNX Runtime allocates the output on the device and hands it back.
            binding.clearOutputs();
            binding.bindOutputToDevice("y", cpu);
            binding.run();
            List<Tensor> allocated = binding.outputs(alloc);
            assertArrayEquals(want, allocated.get(0).data().toArray(JAVA_FLOAT));
            allocated.forEach(Tensor::close);
            binding.clearInputs();
            binding.clearOutputs();
        }
        assertTrue(ledger.isClean(), ledger.toString());
    }

    @Test
    void aFailedRunSurfacesOrtsMessageAndLeaksNothing() {
        MemorySegment xs = arena.allocate(JAVA_FLOAT, 10);
        MemorySegment ss = arena.allocate(JAVA_FLOAT, 6);
        MemorySegment ys = arena.allocate(JAVA_FLOAT, 6);
        try (MemoryInfo cpu = MemoryInfo.cpu(api, ledger);
             IoBinding binding = IoBinding.create(api, ledger, SessionHandle.of(session), cpu)) {
            try (Tensor vx = Tensor.over(api, ledger, cpu, xs, ElementType.FLOAT, 2, 5);
                 Tensor vs = Tensor.over(api, ledger, cpu, ss, ElementType.FLOAT, 2, 3);
                 Tensor vy = Tensor.over(api, ledger, cpu, ys, ElementType.FLOAT, 2, 3)) {
                binding.bindInput("x", vx);
                binding.bindInput("state", vs);
                binding.bindOutput("y", vy);
                OrtStatusException e = assertThrows(OrtStatusException.class, binding::run);
                assertTrue(e.getMessage().contains("x") && e.getMessage().toLowerCase().contains("dimension"), e.getMessage());
                assertEquals(2, e.errorCode(), "ORT_INVALID_ARGUMENT");
            }
            // Names are checked by the run, not when bound.
            binding.clearOutputs();
            binding.bindOutputToDevice("no-such-output", cpu);
            OrtStatusException unknown;
            try (Tensor vx = Tensor.over(api, ledger, cpu, xs, ElementType.FLOAT, 2, 4)) {
                binding.bindInput("x", vx);
                unknown = assertThrows(OrtStatusException.class, binding::run);
            }
            assertTrue(unknown.getMessage().contains("no-such-output"), unknown.getMessage());
        }
        assertThrows(IllegalArgumentException.class,
                () -> Tensor.over(api, ledger, MemoryInfo.cpu(api, ledger), xs, ElementType.FLOAT, 3, 4),
                "a tensor larger than its memory is refused before ONNX Runtime sees it");
        assertEquals(1, ledger.live(NativeLedger.Kind.MEMORY_INFO), "the memory info made for the refused tensor");
    }

    @Test
    void aTerminatedRunFailsAndLaterRunsResume() {
        MemorySegment xs = arena.allocate(JAVA_FLOAT, 4);
        MemorySegment ss = arena.allocate(JAVA_FLOAT, 3);
        MemorySegment ys = arena.allocate(JAVA_FLOAT, 3);
        try (MemoryInfo cpu = MemoryInfo.cpu(api, ledger);
             IoBinding binding = IoBinding.create(api, ledger, SessionHandle.of(session), cpu);
             Tensor vx = Tensor.over(api, ledger, cpu, xs, ElementType.FLOAT, 1, 4);
             Tensor vs = Tensor.over(api, ledger, cpu, ss, ElementType.FLOAT, 1, 3);
             Tensor vy = Tensor.over(api, ledger, cpu, ys, ElementType.FLOAT, 1, 3)) {
            binding.bindInput("x", vx);
            binding.bindInput("state", vs);
            binding.bindOutput("y", vy);
            binding.terminate();
            OrtStatusException e = assertThrows(OrtStatusException.class, binding::run);
            assertTrue(e.getMessage().toLowerCase().contains("terminat"), e.getMessage());
            binding.resume();
            binding.run();
            assertEquals(1, binding.transfers().runs(), "only the completed run is counted");
        }
        assertTrue(ledger.isClean(), ledger.toString());
    }

    @Test
    void aStepAbandonedMidwayClosesInAnyOrder() {
        MemorySegment xs = arena.allocate(JAVA_FLOAT, 4);
        MemorySegment ss = arena.allocate(JAVA_FLOAT, 3);
        MemoryInfo cpu = MemoryInfo.cpu(api, ledger);
        IoBinding binding = IoBinding.create(api, ledger, SessionHandle.of(session), cpu);
        Tensor vx = Tensor.over(api, ledger, cpu, xs, ElementType.FLOAT, 1, 4);
        Tensor vs = Tensor.over(api, ledger, cpu, ss, ElementType.FLOAT, 1, 3);
        binding.bindInput("x", vx);
        binding.bindInput("state", vs);
        // Cancelled before the output was bound or the run started: values first, then the binding.
        vx.close();
        binding.bindOutputToDevice("y", cpu);
        binding.close();
        binding.close();
        assertThrows(IllegalStateException.class, binding::run, "no run on a closed binding");
        binding.terminate();  // a late cancel after close is a no-op
        cpu.close();
        vs.close();
        vs.close();
        assertTrue(ledger.isClean(), ledger.toString());
        assertEquals(1, ledger.created(NativeLedger.Kind.IO_BINDING));
    }

    @Test
    void transfersCountHostMemoryAsMovedAndDeviceMemoryAsResident() {
        int rows = 4;
        MemorySegment xs = arena.allocate(JAVA_FLOAT, rows * 4);
        MemorySegment ss = arena.allocate(JAVA_FLOAT, rows * 3);
        MemorySegment ys = arena.allocate(JAVA_FLOAT, rows * 3);
        // Two CPU memory infos: "host" for what the engine writes and reads, "device" standing in for CUDA.
        try (MemoryInfo host = MemoryInfo.cpu(api, ledger);
             MemoryInfo device = MemoryInfo.cpu(api, ledger);
             IoBinding binding = IoBinding.create(api, ledger, SessionHandle.of(session), device);
             Tensor vx = Tensor.over(api, ledger, host, xs, ElementType.FLOAT, rows, 4);
             Tensor vs = Tensor.over(api, ledger, device, ss, ElementType.FLOAT, rows, 3);
             Tensor vy = Tensor.over(api, ledger, host, ys, ElementType.FLOAT, rows, 3)) {
            binding.bindInput("x", vx);
            binding.bindInput("state", vs);
            binding.bindOutput("y", vy);
            binding.run();
            binding.run();
            Transfers t = binding.transfers();
            assertEquals(2, t.runs());
            assertEquals(rows * 4 * 4, t.hostToDevice());
            assertEquals(rows * 3 * 4, t.deviceToHost());
            assertEquals(rows * 3 * 4, t.resident());
            assertEquals(rows * 7 * 4, t.moved());
            assertEquals(2L * rows * 7 * 4, t.totalMoved());
        }
        assertTrue(ledger.isClean(), ledger.toString());
    }
}
