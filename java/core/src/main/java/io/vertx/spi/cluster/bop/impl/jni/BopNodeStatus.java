package io.vertx.spi.cluster.bop.impl.jni;

import io.vertx.spi.cluster.bop.impl.wire.BopWireReader;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What a native node reports of itself ({@link BopNative#status}): the layout of the Rust
 * {@code NodeStatus::encode}, pinned by {@code tests/vectors/jni/status.bin}. Counters come by
 * name, so a newer library may add some; an absent one reads 0.
 */
public final class BopNodeStatus {

  private final String address;
  private final boolean leader;
  private final List<String> members;
  private final int voters;
  private final Map<String, Long> counters;

  private BopNodeStatus(String address, boolean leader, List<String> members, int voters, Map<String, Long> counters) {
    this.address = address;
    this.leader = leader;
    this.members = Collections.unmodifiableList(members);
    this.voters = voters;
    this.counters = Collections.unmodifiableMap(counters);
  }

  /** Reads a status value; malformed bytes are an {@link IllegalArgumentException}. */
  public static BopNodeStatus decode(byte[] bytes) {
    BopWireReader r = new BopWireReader(bytes);
    String address = r.string("address");
    boolean leader = r.bool("leader");
    List<String> members = r.strings("members");
    int voters = r.u32("voters");
    int count = r.count("counters", 12);
    Map<String, Long> counters = new LinkedHashMap<>();
    for (int i = 0; i < count; i++) {
      counters.put(r.string("counter name"), r.u64("counter value"));
    }
    r.finish();
    return new BopNodeStatus(address, leader, members, voters, counters);
  }

  /** The {@code host:port} the node listens on for cluster traffic. */
  public String address() {
    return address;
  }

  /** True while the node leads the cluster. */
  public boolean isLeader() {
    return leader;
  }

  /** Member ids in join order, as the node has applied them. */
  public List<String> members() {
    return members;
  }

  /** How many voters the raft configuration the node has applied holds. */
  public int voters() {
    return voters;
  }

  /** Every transport counter by name (frames, handshakes, refusals...), in the library's order. */
  public Map<String, Long> counters() {
    return counters;
  }

  /** One counter, 0 when this library does not have it. */
  public long counter(String name) {
    return counters.getOrDefault(name, 0L);
  }

  @Override
  public String toString() {
    return "address " + address + (leader ? " (leader)" : "") + ", members " + members + ", voters "
      + voters + ", counters " + counters;
  }
}
