//! A hook for the JNI benchmark only (cargo feature `bench-hooks`, which `scripts/bench-jni.sh`
//! turns on; the product's library lacks it): times requests made from native code, so the
//! cost the Java layer adds can be told apart.

use std::time::Duration;

use jni::objects::{JByteArray, JClass};
use jni::sys::{jint, jlong};
use jni::JNIEnv;

use super::errors::JniError;
use super::handles;
use crate::node::Node;
use crate::wire::FramedMessage;

/// For the JNI benchmark: runs `iterations` calls of the request in `frame` through the node
/// from Rust and returns the total nanoseconds, so the cost Java adds can be told apart.
#[no_mangle]
pub extern "system" fn Java_io_vertx_spi_cluster_bop_impl_NativeTiming_timeNativeCalls<'local>(
    mut env: JNIEnv<'local>,
    _class: JClass<'local>,
    handle: jlong,
    frame: JByteArray<'local>,
    iterations: jint,
    in_flight: jint,
) -> jlong {
    super::guard(&mut env, 0, |env| {
        let entry = handles::get(handle)?;
        if frame.is_null() {
            return Err(JniError::BadArgument("frame is null".into()));
        }
        let bytes = env.convert_byte_array(&frame)?;
        let framed = FramedMessage::decode(&bytes, entry.node.max_frame_size())
            .map_err(|e| JniError::BadArgument(format!("malformed request frame: {e}")))?;
        let iterations = iterations.max(0) as usize;
        let started = std::time::Instant::now();
        if in_flight <= 1 {
            for _ in 0..iterations {
                std::hint::black_box(entry.node.call(framed.payload.clone()));
            }
        } else {
            time_pipelined(&entry.node, &framed.payload, iterations, in_flight as usize)?;
        }
        Ok(started.elapsed().as_nanos() as jlong)
    })
}

/// Runs `iterations` requests through the node with `in_flight` of them outstanding, answers on
/// the node's callback thread, as the Java layer runs them.
fn time_pipelined(
    node: &Node,
    request: &crate::wire::Message,
    iterations: usize,
    in_flight: usize,
) -> Result<(), JniError> {
    let (tx, rx) = std::sync::mpsc::channel();
    let submit = || {
        let tx = tx.clone();
        node.request(
            request.clone(),
            Box::new(move |answer| {
                let _ = tx.send(answer);
            }),
        )
    };
    let mut sent = 0;
    while sent < in_flight.min(iterations) {
        submit()?;
        sent += 1;
    }
    for _ in 0..iterations {
        let answer = rx
            .recv_timeout(Duration::from_secs(30))
            .map_err(|_| JniError::Native("no answer within 30 s".into()))?;
        std::hint::black_box(answer);
        if sent < iterations {
            submit()?;
            sent += 1;
        }
    }
    Ok(())
}
