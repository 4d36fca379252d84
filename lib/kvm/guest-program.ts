/** A tiny 16-bit real-mode assembler: enough for a guest to read/write memory and report via port I/O. */

/** Builds real-mode machine code; every method appends instructions and returns this. */
export class GuestProgram {
  private readonly code: number[] = [];
  private imm16(v: number): void {
    this.code.push(v & 0xff, (v >> 8) & 0xff);
  }
  /** mov ax, imm16; mov ds, ax — selects the 64 KiB data segment at seg*16. */
  setDs(seg: number): this {
    this.code.push(0xb8);
    this.imm16(seg);
    this.code.push(0x8e, 0xd8);
    return this;
  }
  /** mov al, imm8. */
  movAlImm(v: number): this {
    this.code.push(0xb0, v & 0xff);
    return this;
  }
  /** mov al, [ds:addr]. */
  loadAl(addr: number): this {
    this.code.push(0xa0);
    this.imm16(addr);
    return this;
  }
  /** mov [ds:addr], al. */
  storeAl(addr: number): this {
    this.code.push(0xa2);
    this.imm16(addr);
    return this;
  }
  /** mov byte [ds:addr], imm8. */
  storeByte(addr: number, v: number): this {
    this.code.push(0xc6, 0x06);
    this.imm16(addr);
    this.code.push(v & 0xff);
    return this;
  }
  /** inc byte [ds:addr]. */
  incByte(addr: number): this {
    this.code.push(0xfe, 0x06);
    this.imm16(addr);
    return this;
  }
  /** out imm8, al — reports AL to the host as a KVM_EXIT_IO on that port. */
  outAl(port: number): this {
    this.code.push(0xe6, port & 0xff);
    return this;
  }
  /** mov al, [ds:addr]; out port, al — reports a guest byte to the host. */
  reportByte(addr: number, port: number): this {
    return this.loadAl(addr).outAl(port);
  }
  /** mov al, imm8; out port, al — reports a constant (a checkpoint). */
  reportImm(v: number, port: number): this {
    return this.movAlImm(v).outAl(port);
  }
  /** mov bl, imm8. */
  movBlImm(v: number): this {
    this.code.push(0xb3, v & 0xff);
    return this;
  }
  /** mov bl, al. */
  movBlAl(): this {
    this.code.push(0x88, 0xc3);
    return this;
  }
  /** cmp al, bl. */
  cmpAlBl(): this {
    this.code.push(0x38, 0xd8);
    return this;
  }
  /** The offset the next instruction is assembled at (a jump target). */
  here(): number {
    return this.code.length;
  }
  /** je rel8 to an offset returned by here(). */
  je(target: number): this {
    return this.jump8(0x74, target);
  }
  /** jmp rel8 to an offset returned by here(). */
  jmp(target: number): this {
    return this.jump8(0xeb, target);
  }
  private jump8(opcode: number, target: number): this {
    const rel = target - (this.code.length + 2);
    if (rel < -128 || rel > 127) throw new Error(`jump of ${rel} bytes does not fit rel8`);
    this.code.push(opcode, rel & 0xff);
    return this;
  }
  /** mov r32, imm32 in 16-bit code (operand-size prefix): the hypercall registers eax, ebx, ecx, edx. */
  movImm32(reg: 'eax' | 'ecx' | 'edx' | 'ebx', v: number): this {
    const r = { eax: 0, ecx: 1, edx: 2, ebx: 3 }[reg];
    this.code.push(0x66, 0xb8 + r);
    this.code.push(v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff);
    return this;
  }
  /** A KVM hypercall: vmmcall (0f 01 d9) on AMD, vmcall (0f 01 c1) on Intel; KVM emulates the other one too. */
  hypercall(amd: boolean): this {
    this.code.push(0x0f, 0x01, amd ? 0xd9 : 0xc1);
    return this;
  }
  /** hlt. */
  hlt(): this {
    this.code.push(0xf4);
    return this;
  }
  /** jmp $ — spins forever (for tests that need a guest that never exits by itself). */
  spin(): this {
    this.code.push(0xeb, 0xfe);
    return this;
  }
  /** The assembled bytes. */
  bytes(): Buffer {
    return Buffer.from(this.code);
  }
}
