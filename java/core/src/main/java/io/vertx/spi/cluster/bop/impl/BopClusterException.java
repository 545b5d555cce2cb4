package io.vertx.spi.cluster.bop.impl;

/**
 * A request the cluster refused or could not complete: no quorum, a timeout, an unknown node, a
 * closed node. {@link #code()} is the wire protocol's error code.
 */
public class BopClusterException extends RuntimeException {

  public static final int NOT_A_MEMBER = 3;
  public static final int NO_QUORUM = 5;
  public static final int TIMEOUT = 6;
  public static final int CLOSED = 7;

  private final int code;

  public BopClusterException(int code, String message) {
    super(message);
    this.code = code;
  }

  /** The same refusal seen from a blocked caller, whose stack the trace then shows. */
  public BopClusterException(BopClusterException refusal, String context) {
    super(refusal.getMessage() + " (" + context + ")", refusal);
    this.code = refusal.code;
  }

  public int code() {
    return code;
  }
}
