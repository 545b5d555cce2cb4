package io.vertx.spi.cluster.bop.impl.jni;

/**
 * The native functions of the Rust core ({@code rust/jni/} in the repository): seven, each taking
 * or returning a value in the wire codec's encoding rather than a list of scalars. Every function
 * that takes a handle throws {@link IllegalStateException} for a handle that is unknown or already
 * closed; a failure inside the native code (including a Rust panic, with its backtrace) arrives as
 * {@link BopNativeException}; bad arguments (null, malformed or oversized frames or settings) as
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
   * @param settings the node's settings, as {@link BopNodeSettings#encode} writes them
   * @param listener receives responses and events on the node's callback thread
   */
  public static native long start(byte[] settings, NativeListener listener);

  /**
   * Submits request frames laid back to back, in order (one or more; see
   * {@code tests/vectors/README.md}). Every frame is checked first: one bad frame refuses the whole
   * batch with {@link IllegalArgumentException}. Each response frame, with its request's id,
   * arrives through {@link NativeListener#onResponses(byte[])}.
   */
  public static native void requests(long handle, byte[] frames);

  /** Leaves the cluster gracefully and closes the node. Blocks until the departure is committed. */
  public static native void leave(long handle);

  /** Closes the node without leaving (the others declare it dead after their timeout). */
  public static native void close(long handle);

  /**
   * Sends the native log to {@code sink} at {@code level} (0 off, 1 error, 2 warn, 3 info,
   * 4 debug, 5 trace), in batches from a thread of its own, unless the environment variable
   * {@code VERTX_CLUSTER_LOG} asks for standard error. The native logger is the process's: the
   * last call's sink and level apply to every node.
   *
   * @return whether records now reach {@code sink}
   */
  public static native boolean logTo(NativeLog sink, int level);

  /** The node's status, for {@link BopNodeStatus#decode}. */
  public static native byte[] status(long handle);
}
