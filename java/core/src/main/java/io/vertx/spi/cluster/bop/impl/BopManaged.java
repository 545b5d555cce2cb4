package io.vertx.spi.cluster.bop.impl;

/** A cluster manager of this product, on either Vert.x line: the shared logic behind it. */
public interface BopManaged {
  BopManagerCore core();
}
