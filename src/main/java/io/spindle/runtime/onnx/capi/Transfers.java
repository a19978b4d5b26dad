package io.spindle.runtime.onnx.capi;

/**
 * What a binding's runs moved between host and device, by its own count of the bytes bound: an input
 * bound from host memory is copied to the device by every run, an output bound to host memory is copied
 * back, and a value in the binding's device memory stays where it is (resident). "Device" is the memory
 * info the binding was made for: CUDA memory on a GPU; on a CPU session a second CPU memory info stands
 * in for it, so that CI counts exactly what the same code would move on a GPU (no copy happens on CPU).
 * Outputs ONNX Runtime allocates itself ({@link IoBinding#bindOutputToDevice}) count as resident, 0 bytes.
 *
 * @param runs          bound runs so far
 * @param hostToDevice  bytes of host-memory inputs in the last run
 * @param deviceToHost  bytes of host-memory outputs in the last run
 * @param resident      bytes of device-memory inputs and outputs in the last run (bound in place)
 * @param totalMoved    host-to-device plus device-to-host bytes over all runs
 */
public record Transfers(long runs, long hostToDevice, long deviceToHost, long resident, long totalMoved) {
    /** Bytes that crossed between host and device in the last run. */
    public long moved() {
        return hostToDevice + deviceToHost;
    }
}
