package io.spindle.runtime.onnx.capi;

/**
 * What runs moved between host and device, and within the device, by their own count of the bytes bound:
 * an input bound from host memory is copied to the device by every run, an output bound to host memory is
 * copied back, and a value in the binding's device memory stays where it is (resident). "Device" is the
 * memory info the binding was made for: CUDA memory on a GPU; on a CPU session a second CPU memory info
 * stands in for it, so that CI counts exactly what the same code would move on a GPU (no copy happens on
 * CPU). Outputs ONNX Runtime allocates itself ({@link IoBinding#bindOutputToDevice}) count as resident, 0 bytes.
 * Copies between tensors ({@link DeviceCopy}) count by where their source and destination live.
 *
 * @param runs           runs (or copies, or steps) counted
 * @param hostToDevice   bytes copied from host to device memory
 * @param deviceToHost   bytes copied from device to host memory
 * @param deviceToDevice bytes copied within device memory
 * @param resident       bytes of device-memory inputs and outputs bound in place (not moved)
 * @param totalMoved     host-to-device plus device-to-host bytes over all runs so far
 */
public record Transfers(long runs, long hostToDevice, long deviceToHost, long deviceToDevice, long resident,
                        long totalMoved) {
    /** Bytes that crossed between host and device. */
    public long moved() {
        return hostToDevice + deviceToHost;
    }
}
