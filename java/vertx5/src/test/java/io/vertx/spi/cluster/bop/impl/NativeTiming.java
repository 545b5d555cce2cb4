package io.vertx.spi.cluster.bop.impl;

/**
 * The JNI benchmark's native hook ({@code rust/jni/bench_hooks.rs}), present only in a library
 * built with the cargo feature {@code bench-hooks}: the product's library does not export it, and
 * calling it there is an {@link UnsatisfiedLinkError}.
 */
final class NativeTiming {

  private NativeTiming() {
  }

  /**
   * Runs {@code iterations} calls of the request in {@code frame} through the node from native
   * code (no JNI crossing per call), {@code inFlight} at a time; returns the total nanoseconds.
   */
  static native long timeNativeCalls(long handle, byte[] frame, int iterations, int inFlight);
}
