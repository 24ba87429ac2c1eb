/** Reference lists for the synthetic generator: names, cities with tiers and ID area codes, occupations, holidays. */

/** Surnames with rough relative frequencies (per cent of the population), compound surnames last. */
export const SURNAMES: readonly string[] = [
  '王', '李', '张', '刘', '陈', '杨', '黄', '赵', '吴', '周', '徐', '孙', '马', '朱', '胡', '郭', '何', '高', '林', '罗',
  '郑', '梁', '谢', '宋', '唐', '许', '韩', '冯', '邓', '曹', '彭', '曾', '肖', '田', '董', '袁', '潘', '于', '蒋', '蔡',
  '余', '杜', '叶', '程', '苏', '魏', '吕', '丁', '任', '沈',
  '欧阳', '司马', '上官', '诸葛', '东方', '皇甫', '慕容',
];
export const SURNAME_WEIGHTS: readonly number[] = [
  7.1, 7.0, 6.7, 5.4, 4.5, 3.1, 2.2, 2.0, 2.0, 1.9, 1.5, 1.5, 1.4, 1.3, 1.3, 1.2, 1.1, 1.1, 1.1, 0.9,
  0.9, 0.9, 0.8, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7, 0.6, 0.6, 0.6, 0.6, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5,
  0.5, 0.5, 0.4, 0.4, 0.4, 0.4, 0.4, 0.4, 0.4, 0.4,
  0.06, 0.02, 0.02, 0.02, 0.01, 0.01, 0.01,
];

export const GIVEN_MALE: readonly string[] = Array.from(
  '伟强磊军勇杰涛斌超明刚平辉鹏华飞鑫波宇浩凯健俊帆帅旭宁龙林阳建国志文海东峰亮成昊轩博睿晨子泽然',
);
export const GIVEN_FEMALE: readonly string[] = Array.from(
  '芳娜敏静丽艳娟霞秀燕玲桂丹萍红玉兰英梅莉婷雪琳颖倩洁佳欣怡雨萱诗涵晶慧梦蕾薇月悦',
);

export interface City {
  name: string;
  tier: 1 | 2 | 3 | 4;
  /** Relative share of the bank's customers. */
  weight: number;
  /** GB/T 2260 district codes, the first six digits of IDs issued there. */
  areaCodes: readonly string[];
}

export const CITIES: readonly City[] = [
  { name: '北京', tier: 1, weight: 8, areaCodes: ['110101', '110102', '110105', '110106', '110108'] },
  { name: '上海', tier: 1, weight: 8, areaCodes: ['310101', '310104', '310105', '310110', '310115'] },
  { name: '广州', tier: 1, weight: 6, areaCodes: ['440103', '440104', '440105', '440106'] },
  { name: '深圳', tier: 1, weight: 6, areaCodes: ['440303', '440304', '440305', '440306'] },
  { name: '杭州', tier: 2, weight: 4, areaCodes: ['330102', '330105', '330106', '330108'] },
  { name: '成都', tier: 2, weight: 5, areaCodes: ['510104', '510105', '510106', '510107'] },
  { name: '南京', tier: 2, weight: 4, areaCodes: ['320102', '320104', '320105', '320106'] },
  { name: '武汉', tier: 2, weight: 4, areaCodes: ['420102', '420103', '420106', '420111'] },
  { name: '西安', tier: 2, weight: 4, areaCodes: ['610102', '610103', '610104', '610113'] },
  { name: '苏州', tier: 2, weight: 4, areaCodes: ['320505', '320506', '320507', '320508'] },
  { name: '洛阳', tier: 3, weight: 2, areaCodes: ['410302', '410303', '410305'] },
  { name: '绵阳', tier: 3, weight: 2, areaCodes: ['510703', '510704'] },
  { name: '赣州', tier: 3, weight: 2, areaCodes: ['360702', '360703'] },
  { name: '泉州', tier: 3, weight: 2, areaCodes: ['350502', '350503'] },
  { name: '温州', tier: 3, weight: 2, areaCodes: ['330302', '330303', '330304'] },
  { name: '潍坊', tier: 3, weight: 2, areaCodes: ['370702', '370703', '370705'] },
  { name: '曲靖', tier: 4, weight: 1.5, areaCodes: ['530302', '530303'] },
  { name: '南充', tier: 4, weight: 1.5, areaCodes: ['511302', '511303'] },
  { name: '周口', tier: 4, weight: 1.5, areaCodes: ['411602'] },
  { name: '信阳', tier: 4, weight: 1.5, areaCodes: ['411502', '411503'] },
  { name: '天水', tier: 4, weight: 1, areaCodes: ['620502', '620503'] },
];
export const CITY_WEIGHTS: readonly number[] = CITIES.map((c) => c.weight);
/** Income multiplier by city tier. */
export const TIER_INCOME: Readonly<Record<1 | 2 | 3 | 4, number>> = { 1: 1.5, 2: 1.15, 3: 0.9, 4: 0.75 };

export type Occupation = '公务员' | '教师' | '医生' | '工程师' | '个体户' | '企业职员' | '退休' | '学生' | '自由职业';

/** Occupations paid a monthly salary into their account. */
export const SALARIED: ReadonlySet<Occupation> = new Set<Occupation>(['公务员', '教师', '医生', '工程师', '企业职员']);

/** Median annual income (yuan, before the city-tier multiplier) and log-scale spread per occupation. */
export const INCOME: Readonly<Record<Occupation, { median: number; sigma: number }>> = {
  公务员: { median: 120_000, sigma: 0.3 },
  教师: { median: 100_000, sigma: 0.3 },
  医生: { median: 160_000, sigma: 0.4 },
  工程师: { median: 180_000, sigma: 0.4 },
  个体户: { median: 120_000, sigma: 0.8 },
  企业职员: { median: 90_000, sigma: 0.5 },
  退休: { median: 48_000, sigma: 0.4 },
  学生: { median: 6_000, sigma: 0.6 },
  自由职业: { median: 70_000, sigma: 0.7 },
};

const YOUNG: readonly Occupation[] = ['学生', '企业职员', '自由职业', '个体户'];
const YOUNG_W: readonly number[] = [70, 15, 10, 5];
const WORKING: readonly Occupation[] = ['公务员', '教师', '医生', '工程师', '个体户', '企业职员', '自由职业', '学生'];
const WORKING_W: readonly number[] = [7, 8, 5, 12, 13, 40, 10, 2];
const LATE: readonly Occupation[] = ['公务员', '教师', '医生', '工程师', '个体户', '企业职员', '自由职业', '退休'];
const LATE_W: readonly number[] = [8, 8, 5, 7, 14, 30, 8, 20];
const SENIOR: readonly Occupation[] = ['退休', '个体户', '自由职业', '企业职员'];
const SENIOR_W: readonly number[] = [85, 7, 5, 3];

/** Occupation choices and weights for an age in whole years. */
export function occupationsForAge(age: number): [readonly Occupation[], readonly number[]] {
  if (age < 23) return [YOUNG, YOUNG_W];
  if (age < 50) return [WORKING, WORKING_W];
  if (age < 60) return [LATE, LATE_W];
  return [SENIOR, SENIOR_W];
}

/** Mobile prefixes used for customers' numbers (19x kept apart for numbers people change to later). */
export const MOBILE_PREFIXES: readonly string[] = [
  '130', '131', '132', '133', '135', '136', '137', '138', '139', '150', '151', '152', '155', '156', '157', '158',
  '159', '166', '176', '177', '178', '180', '181', '182', '183', '185', '186', '187', '188', '189',
];
export const NEW_MOBILE_PREFIXES: readonly string[] = ['191', '193', '195', '198', '199'];

/** Spring Festival (lunar new year's day), Gregorian month-day per year. */
export const SPRING_FESTIVAL: Readonly<Record<number, string>> = {
  2015: '02-19', 2016: '02-08', 2017: '01-28', 2018: '02-16', 2019: '02-05', 2020: '01-25', 2021: '02-12',
  2022: '02-01', 2023: '01-22', 2024: '02-10', 2025: '01-29', 2026: '02-17', 2027: '02-06', 2028: '01-26',
  2029: '02-13', 2030: '02-03', 2031: '01-23', 2032: '02-11', 2033: '01-31', 2034: '02-19', 2035: '02-08',
};
/** Mid-Autumn Festival, Gregorian month-day per year. */
export const MID_AUTUMN: Readonly<Record<number, string>> = {
  2015: '09-27', 2016: '09-15', 2017: '10-04', 2018: '09-24', 2019: '09-13', 2020: '10-01', 2021: '09-21',
  2022: '09-10', 2023: '09-29', 2024: '09-17', 2025: '10-06', 2026: '09-25', 2027: '09-15', 2028: '10-03',
  2029: '09-22', 2030: '09-12',
};

/** Malformed values written into date columns at the malformedDate rate. */
export const MALFORMED_DATES: readonly string[] = ['2024-13-45', '31/02/2024', 'N/A', '0000-00-00', '2023-02-30', '19851345'];
