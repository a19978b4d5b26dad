package io.spindle.runtime.onnx;

import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtLoggingLevel;
import ai.onnxruntime.OrtProvider;
import ai.onnxruntime.OrtSession;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.logging.Logger;

/**
 * The process's ONNX Runtime environment and how sessions are created: threads, optimisation level
 * and the execution provider. CUDA is requested when configured; where it cannot be had the session
 * falls back to CPU and says so once.
 */
public final class OrtRuntime {
    private static final Logger LOG = Logger.getLogger(OrtRuntime.class.getName());

    /** Where the graphs run; the only values {@code spindle.runtime.execution-provider} takes. */
    public enum Provider { CPU, CUDA }

    /**
     * How runners that support it hand their buffers to ONNX Runtime ({@code spindle.runtime.io-binding}):
     * the official Java API ({@code OrtSession.run} with pinned outputs), or IoBinding through the C API
     * ({@code runtime.onnx.capi}). Today only the in-place KV runner has the second.
     */
    public enum Binding {
        JAVA_API, FFM;

        public static Binding of(String value) {
            return switch (value.trim().toLowerCase(Locale.ROOT)) {
                case "java-api" -> JAVA_API;
                case "ffm" -> FFM;
                default -> throw new IllegalArgumentException("spindle.runtime.io-binding is java-api or ffm, not " + value);
            };
        }
    }

    private final OrtEnvironment env;
    private final Provider requested;
    private final int intraOpThreads;
    private final boolean allowSpinning;
    private final Binding binding;
    private volatile Provider effective;
    private volatile boolean fallbackLogged;

    public OrtRuntime(String provider, int intraOpThreads) {
        this(provider, intraOpThreads, true);
    }

    /**
     * @param provider      cpu, cuda, or auto (CUDA when this ONNX Runtime build has it, else CPU)
     * @param allowSpinning whether ONNX Runtime's intra-op threads busy-wait between operators
     */
    public OrtRuntime(String provider, int intraOpThreads, boolean allowSpinning) {
        this(provider, intraOpThreads, allowSpinning, Binding.JAVA_API);
    }

    /** @param binding how runners that can bind their buffers through the C API do it */
    public OrtRuntime(String provider, int intraOpThreads, boolean allowSpinning, Binding binding) {
        NoTelemetry.ensureDisabled();
        this.binding = binding;
        this.intraOpThreads = intraOpThreads;
        this.allowSpinning = allowSpinning;
        this.env = OrtEnvironment.getEnvironment(OrtLoggingLevel.ORT_LOGGING_LEVEL_WARNING, "spindle");
        String p = provider.trim().toUpperCase(Locale.ROOT);
        this.requested = p.equals("AUTO")
                ? (OrtEnvironment.getAvailableProviders().contains(OrtProvider.CUDA) ? Provider.CUDA : Provider.CPU)
                : Provider.valueOf(p);
        try {
            env.setTelemetry(false);
        } catch (OrtException e) {
            LOG.fine("ONNX Runtime telemetry switch unavailable: " + e.getMessage());
        }
        this.effective = requested;
    }

    public OrtEnvironment env() {
        return env;
    }

    public Binding binding() {
        return binding;
    }

    /** The provider sessions actually run on (CPU after a CUDA fallback). */
    public Provider provider() {
        return effective;
    }

    public OrtSession open(Path file) throws ModelLoadException {
        return open(file, true);
    }

    /**
     * A session for graphs whose input shapes change from run to run (an encoder's rows × padded
     * length): without ONNX Runtime's memory pattern, which plans one more arena block for each shape it
     * has seen run, so that a pass repeated at the same shape held twice its activations for good
     * (all-MiniLM-L6-v2, 8 × 512 tokens: +421 MiB after the second pass instead of +205 MiB;
     * {@code EncoderPassMemory}).
     */
    public OrtSession openForVaryingShapes(Path file) throws ModelLoadException {
        return open(file, false);
    }

    private OrtSession open(Path file, boolean memoryPattern) throws ModelLoadException {
        if (!Files.isRegularFile(file)) {
            throw new ModelLoadException(file, "file not found");
        }
        try (OrtSession.SessionOptions options = options(memoryPattern)) {
            return env.createSession(file.toString(), options);
        } catch (OrtException e) {
            throw new ModelLoadException(file, "ONNX Runtime cannot load this graph: " + e.getMessage(), e);
        }
    }

    /**
     * A session on a graph Spindle generated in memory (the KV cache's copy graphs), with the options and
     * provider every other session gets, so that it runs where they keep their memory.
     */
    public OrtSession open(byte[] model, String what) {
        try (OrtSession.SessionOptions options = options(false)) {
            return env.createSession(model, options);
        } catch (OrtException e) {
            throw new IllegalStateException("ONNX Runtime cannot load Spindle's " + what + " graph: " + e.getMessage(), e);
        }
    }

    private OrtSession.SessionOptions options(boolean memoryPattern) throws OrtException {
        OrtSession.SessionOptions options = new OrtSession.SessionOptions();
        try {
            options.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.ALL_OPT);
            if (intraOpThreads > 0) {
                options.setIntraOpNumThreads(intraOpThreads);
            }
            options.addConfigEntry("session.intra_op.allow_spinning", allowSpinning ? "1" : "0");
            options.setMemoryPatternOptimization(memoryPattern);
            if (requested == Provider.CUDA) {
                addCudaOrFallBack(options);
            }
            return options;
        } catch (OrtException | RuntimeException e) {
            options.close();
            throw e;
        }
    }

    private void addCudaOrFallBack(OrtSession.SessionOptions options) {
        try {
            options.addCUDA(0);
            effective = Provider.CUDA;
        } catch (OrtException | RuntimeException | UnsatisfiedLinkError e) {
            effective = Provider.CPU;
            if (!fallbackLogged) {
                fallbackLogged = true;
                LOG.warning("CUDA execution provider requested (spindle.runtime.execution-provider) but unavailable ("
                        + e.getMessage() + "); running on CPU. "
                        + (OrtEnvironment.getAvailableProviders().contains(OrtProvider.CUDA)
                        ? "This ONNX Runtime has the CUDA provider: it needs the CUDA 12 and cuDNN 9 libraries on the "
                        + "loader's path (LD_LIBRARY_PATH) and a GPU; ONNX Runtime's own error line names what failed"
                        : "This ONNX Runtime has no CUDA provider: build with -Pgpu (onnxruntime_gpu)"));
            }
        }
    }
}
