"""ext2srv: an ext2 file system (revision 0 and 1) served over 9P2000, the paper's Ext2FS.

Layers, bottom up: ``layout`` (superblock, group descriptor and inode records; the feature
check), ``cache`` (the partition file and the metadata block cache with its write order),
``alloc`` (bitmaps and free counts), ``bmap`` (block maps with indirect blocks; truncation),
``rw`` (file contents), ``dirent`` (directory blocks), ``fs`` (one mounted image; inodes;
the per-request lock and flush), ``ops`` (create, unlink, rename) and ``srv`` (the lib9p
FileServer).  The LP49 program is ``lp49fs.cmd.ext2srv``; docs/ext2.md tells the story.
"""
