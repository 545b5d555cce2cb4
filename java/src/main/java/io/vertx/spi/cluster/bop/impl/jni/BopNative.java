package io.vertx.spi.cluster.bop.impl.jni;

/**
 * The native functions of the Rust core ({@code rust/jni/} in the repository). Every function
 * that takes a handle throws {@link IllegalStateException} for a handle that is unknown or
 * already closed; a failure inside the native code (including a Rust panic, with its backtrace)
 * arrives as {@link BopNativeException}; bad arguments (null, malformed or oversized frames) as
 * {@link IllegalArgumentException}. Nothing here blocks on the network except {@link #start} and
 * {@link #leave}, which callers run off the event loop.
 */
public final class BopNative {

  private BopNative() {
  }

  /** The native library's version line, e.g. {@code vertx-cluster 0.1.0 (wire protocol v1)}. */
  public static native String version();

  /**
   * Starts a node and returns its handle once it is a member of the cluster.
   *
   * @param seeds explicit member addresses ({@code host:port}); empty for local discovery
   * @param dnsName a name resolving to the members' addresses, or null
   * @param listener receives responses and events on the node's callback thread
   */
  public static native long start(String clusterName, String nodeId, String host, int port,
                                  String[] seeds, String dnsName, int dnsPort,
                                  long failureTimeoutMs, long pingIntervalMs, long tickMs, int voters,
                                  long requestTimeoutMs, long joinTimeoutMs, long maxFrameSize,
                                  NativeListener listener);

  /**
   * Submits one request frame (see {@code tests/vectors/README.md}); the response frame, with the
   * same request id, arrives through {@link NativeListener#onResponses(byte[])}.
   */
  public static native void request(long handle, byte[] frame);

  /**
   * Submits request frames laid back to back, in order. Every frame is checked first: one bad
   * frame refuses the whole batch with {@link IllegalArgumentException}.
   */
  public static native void requests(long handle, byte[] frames);

  /** Leaves the cluster gracefully and closes the node. Blocks until the departure is committed. */
  public static native void leave(long handle);

  /** Closes the node without leaving (the others declare it dead after their timeout). */
  public static native void close(long handle);

  /** Member ids in join order, as this node has applied them. */
  public static native String[] members(long handle);

  /** The {@code host:port} the node listens on for cluster traffic. */
  public static native String address(long handle);

  /** True while this node leads the cluster. */
  public static native boolean isLeader(long handle);

  /** How many voters the raft configuration this node has applied holds. */
  public static native int voterCount(long handle);

  /** Frames the node's transport refused as malformed since it started. */
  public static native long malformedFrames(long handle);

  /**
   * For the JNI benchmark: runs {@code iterations} calls of the request in {@code frame} through
   * the node from native code (no JNI crossing per call), {@code inFlight} at a time, and returns
   * the total nanoseconds.
   */
  public static native long timeNativeCalls(long handle, byte[] frame, int iterations, int inFlight);
}
