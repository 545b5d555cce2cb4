package io.vertx.spi.cluster.bop.impl.jni;

/**
 * What a native node tells Java, on the node's callback thread (a daemon thread attached to the
 * JVM once), in the order the node applied it. Implementations must not block: they hand work to
 * Vert.x contexts or executors. Exceptions thrown here are logged and cleared by the native side.
 */
public interface NativeListener {

  /**
   * Response frames laid back to back (each frame's {@code size} field gives its length; a burst
   * of answers crosses in one call). Each frame's request id names its request.
   */
  void onResponses(byte[] frames);

  /** A node joined the cluster (this node's own join included). */
  void onNodeAdded(String nodeId);

  /** A node left the cluster or was declared dead (this node's own departure included). */
  void onNodeLeft(String nodeId);

  /**
   * The registrations of an event-bus address changed; {@code registrations} is the full new
   * list, each entry encoded as in the wire protocol's {@code RegistrationInfo} (node id, sequence,
   * local-only flag), concatenated after a 4-byte little-endian count.
   */
  void onRegistrationsChanged(String address, byte[] registrations);

  /**
   * This node had been removed from the cluster (declared dead while unreachable: a long pause or
   * a partition) and has been admitted again. The membership and registration changes it missed
   * were delivered just before; its registrations and node info are being written back; locks it
   * held were released when it was removed, and requests it had in flight failed.
   */
  void onRejoined();

  /**
   * The node's event loop stopped by itself (a bug: a panic, a failed poll), for {@code reason}:
   * the last call. Every request that was waiting has been answered with an error naming the
   * reason, and every later request fails at once with it.
   */
  void onStopped(String reason);
}
