package io.vertx.spi.cluster.bop.impl.jni;

/** A failure inside the native core: an I/O error, a failed join, or a caught Rust panic. */
public class BopNativeException extends RuntimeException {

  public BopNativeException(String message) {
    super(message);
  }
}
