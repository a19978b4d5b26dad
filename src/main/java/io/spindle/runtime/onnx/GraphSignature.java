package io.spindle.runtime.onnx;

import ai.onnxruntime.NodeInfo;
import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import ai.onnxruntime.TensorInfo;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/** A graph's tensor inputs and outputs (name → element type and shape), read from the session. */
public record GraphSignature(Path file, Map<String, TensorInfo> inputs, Map<String, TensorInfo> outputs) {

    public static GraphSignature of(Path file, OrtSession session) throws ModelLoadException {
        try {
            return new GraphSignature(file, tensors(file, session.getInputInfo()), tensors(file, session.getOutputInfo()));
        } catch (OrtException e) {
            throw new ModelLoadException(file, "cannot read the graph's inputs and outputs: " + e.getMessage(), e);
        }
    }

    private static Map<String, TensorInfo> tensors(Path file, Map<String, NodeInfo> infos) throws ModelLoadException {
        Map<String, TensorInfo> out = new LinkedHashMap<>();
        for (Map.Entry<String, NodeInfo> e : infos.entrySet()) {
            if (!(e.getValue().getInfo() instanceof TensorInfo t)) {
                throw new ModelLoadException(file, "'" + e.getKey() + "' is not a tensor (" + e.getValue().getInfo() + ")");
            }
            out.put(e.getKey(), t);
        }
        return out;
    }

    public boolean hasInput(String name) {
        return inputs.containsKey(name);
    }

    public TensorInfo input(String name) throws ModelLoadException {
        return require(inputs, name, "input");
    }

    public TensorInfo output(String name) throws ModelLoadException {
        return require(outputs, name, "output");
    }

    /** The element type of an input, which must be one of {@code allowed}. */
    public OnnxJavaType inputType(String name, Set<OnnxJavaType> allowed) throws ModelLoadException {
        OnnxJavaType t = input(name).type;
        if (!allowed.contains(t)) {
            throw new ModelLoadException(file, "input '" + name + "' has element type " + t + "; expected one of " + allowed);
        }
        return t;
    }

    private TensorInfo require(Map<String, TensorInfo> map, String name, String what) throws ModelLoadException {
        TensorInfo t = map.get(name);
        if (t == null) {
            throw new ModelLoadException(file, "the graph has no " + what + " '" + name + "' (its " + what + "s are "
                    + map.keySet() + ")");
        }
        return t;
    }
}
