package io.vertx.spi.cluster.bop.impl.jni;

import io.vertx.spi.cluster.bop.BopClusterOptions;
import io.vertx.spi.cluster.bop.impl.wire.BopWireWriter;

import java.util.List;

/**
 * A node's settings as the one value {@link BopNative#start} takes: the layout of the Rust
 * {@code NodeOptions::encode_settings} ({@code tests/vectors/README.md}), pinned by the golden
 * vectors in {@code tests/vectors/jni/}. Resolving the options (object, system properties,
 * environment, defaults) happens here, so a malformed setting fails before anything native runs.
 */
public final class BopNodeSettings {

  /** The layout version; the native library refuses any other. */
  static final int VERSION = 3;
  private static final int DISCOVERY_LOCAL = 0;
  private static final int DISCOVERY_SEEDS = 1;
  private static final int DISCOVERY_DNS = 2;

  private BopNodeSettings() {
  }

  /** The settings of the node {@code nodeId} configured by {@code options}. */
  public static byte[] encode(String nodeId, BopClusterOptions options) {
    BopWireWriter w = new BopWireWriter(256);
    w.u8(VERSION);
    w.string(options.getClusterName());
    w.string(nodeId);
    w.string(options.getHost());
    w.u16(options.getPort());
    w.string(options.getPublicHost() == null ? "" : options.getPublicHost());
    w.u16(options.getPublicPort());
    String dnsName = options.getDnsName();
    List<String> seeds = options.getSeeds();
    if (dnsName != null) {
      w.u8(DISCOVERY_DNS).string(dnsName).u16(options.getDnsPort());
    } else if (!seeds.isEmpty()) {
      w.u8(DISCOVERY_SEEDS).strings(seeds);
    } else {
      w.u8(DISCOVERY_LOCAL);
    }
    w.u64(options.getFailureTimeout());
    w.u64(options.getPingInterval());
    w.u64(options.getTick());
    w.u32(options.getVoters());
    w.u64(options.getRequestTimeout());
    w.u64(options.getJoinTimeout());
    w.u64(options.getMaxFrameSize());
    w.optionalBytes(options.getSecret());
    w.bool(options.isInsecure());
    String failureDomain = options.getFailureDomain();
    w.string(failureDomain == null ? "" : failureDomain);
    return w.toByteArray();
  }
}
