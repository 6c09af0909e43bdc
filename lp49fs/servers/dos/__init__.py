"""dossrv: the FAT12/16/32 file server with VFAT long names (the paper's DosFS, Plan 9 dossrv(4)).

Layers, bottom up: ``disk`` (the partition file through system calls), ``bpb`` (the boot
sector and the geometry), ``fat`` (the allocation table, write-through), ``dirent`` (32-byte
entries, long names, 8.3 names, times), ``vol`` (the volume: nodes, directory caches, file
contents), ``dirs`` (changes of directories), ``fs`` (the lib9p FileServer).  The program is
``lp49fs.cmd.dossrv``.  Linux's ``fsck.fat`` and mtools are the test oracles
(tests/test_dossrv*.py).
"""
