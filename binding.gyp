{
  "targets": [
    {
      "target_name": "simplecached",
      "sources": [
        "csrc/buf.c",
        "csrc/bufref.c",
        "csrc/value_out.c",
        "csrc/slab.c",
        "csrc/table.c",
        "csrc/store.c",
        "csrc/store_upkeep.c",
        "csrc/cache.c",
        "csrc/mcnum.c",
        "csrc/engine.c",
        "csrc/session.c",
        "csrc/protocols.c",
        "csrc/auth.c",
        "csrc/proto_simple.c",
        "csrc/proto_binary.c",
        "csrc/proto_binary_compose.c",
        "csrc/proto_binary_sasl.c",
        "csrc/proto_text.c",
        "csrc/proto_meta.c",
        "csrc/proto_meta_req.c",
        "csrc/proto_text_cmd.c",
        "csrc/proto_text_auth.c",
        "csrc/proto_text_stats.c",
        "csrc/stats.c",
        "csrc/served.c",
        "csrc/dump.c",
        "csrc/prefix.c",
        "csrc/latency.c",
        "csrc/crc32c.c",
        "csrc/snapshot_save.c",
        "csrc/snapshot_load.c",
        "csrc/proto_text_admin.c",
        "csrc/proto_text_watch.c",
        "csrc/proto_text_getline.c",
        "csrc/logger.c",
        "csrc/conn.c",
        "csrc/group.c",
        "csrc/net.c",
        "csrc/flight.c",
        "csrc/lookup.c",
        "csrc/binding.cc",
        "csrc/binding_shared.cc",
        "csrc/binding_engine.cc",
        "csrc/binding_engine_fast.cc",
        "csrc/binding_session.cc",
        "csrc/binding_server.cc",
        "csrc/binding_snapshot.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED", "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS"],
      "cflags": ["-O2", "-Wall", "-Wextra"],
      "cflags_c": ["-std=c11", "-D_GNU_SOURCE"],
      "cflags_cc": ["-std=c++17"],
      "configurations": {
        "Release": {"defines": ["NDEBUG"]}
      },
      "xcode_settings": {
        "GCC_C_LANGUAGE_STANDARD": "c11",
        "CLANG_CXX_LANGUAGE_STANDARD": "c++17",
        "OTHER_CFLAGS": ["-O2", "-Wall", "-Wextra"]
      }
    }
  ]
}
